/**
 * The account rules the sign-in page shares with the server. Plain code with no Node imports, so
 * the page checks and previews with the very rules the server applies.
 */

/** Shortest and longest password accepted. */
export const MIN_PASSWORD_LENGTH = 8;
/** Long enough for any passphrase, short enough that nobody posts megabytes to be hashed. */
export const MAX_PASSWORD_LENGTH = 200;

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
