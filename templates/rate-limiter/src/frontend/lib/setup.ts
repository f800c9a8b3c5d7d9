/**
 * The first-run form's rules for a new admin password, checked in the page before it is sent:
 * the same as the server's (and `ADMIN_PASSWORD`'s), 12 to 1000 characters, typed twice alike.
 */
export const MIN_ADMIN_PASSWORD_LENGTH = 12;
export const MAX_ADMIN_PASSWORD_LENGTH = 1000;

/** What is wrong with the new password and its repetition, in a sentence; null when nothing. */
export function newPasswordProblem(password: string, repeat: string): string | null {
  if (password.length < MIN_ADMIN_PASSWORD_LENGTH) {
    return `The admin password must be at least ${MIN_ADMIN_PASSWORD_LENGTH} characters long.`;
  }
  if (password.length > MAX_ADMIN_PASSWORD_LENGTH) {
    return `The admin password may be at most ${MAX_ADMIN_PASSWORD_LENGTH} characters long.`;
  }
  if (password !== repeat) return "The two passwords differ.";
  return null;
}
