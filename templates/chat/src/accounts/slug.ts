/**
 * An organisation's slug from its name: lower case, accents dropped, anything else a dash.
 * "Café Ünited!" -> "cafe-united". Plain string code with no Node imports, so the sign-in page
 * shows the address while the person types with the very rule the server applies.
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
