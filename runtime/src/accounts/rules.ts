/**
 * The account rules the sign-in page shares with the server. Plain code with no Node imports, so
 * the page checks and previews with the very rules the server applies.
 */

/** Shortest and longest password accepted. */
export const MIN_PASSWORD_LENGTH = 8;
/** Long enough for any passphrase, short enough that nobody posts megabytes to be hashed. */
export const MAX_PASSWORD_LENGTH = 200;

/** Fewest letters or digits an organisation's name must have (its slug's shortest length). */
export const MIN_SLUG_LENGTH = 2;

/** A username (or an email address), once trimmed and lower-cased. */
export const LOGIN_PATTERN = /^[a-z0-9][a-z0-9._+@-]*$/;
export const MIN_LOGIN_LENGTH = 2;
export const LOGIN_PATTERN_HINT =
  "A username uses letters, digits and . _ - + @ (an email address works).";

/**
 * An organisation's slug from its name: lower case, accents dropped, anything else a dash.
 * "Café Ünited!" -> "cafe-united".
 */
export function slugify(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/g, "");
}
