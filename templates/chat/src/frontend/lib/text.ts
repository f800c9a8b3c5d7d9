/**
 * How a message's text is shown: plain text (never HTML: React renders every part as text) in
 * which http(s) addresses become links, and long messages shortened behind "Show more".
 */

export type TextPart =
  | { kind: "text"; text: string }
  | { kind: "link"; text: string; href: string };

/** Candidate addresses: http:// or https:// up to the next whitespace or angle bracket. */
const URL_RE = /\bhttps?:\/\/[^\s<>"]+/gi;
/** Trailing characters that end a sentence rather than the address ("see https://a.b/c."). */
const TRAILING = /[.,;:!?'"*_]+$/;

/**
 * Splits `text` into plain parts and links. Only `http:` and `https:` addresses that parse as a
 * URL become links; a closing bracket at the end belongs to the address only if it opens one
 * inside it ("(see https://en.wikipedia.org/wiki/Ada_(language))").
 */
export function linkify(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let candidate = m[0];
    for (;;) {
      const trimmed = candidate.replace(TRAILING, "");
      const unbalanced = /[)\]]$/.test(trimmed) && !balanced(trimmed);
      const next = unbalanced ? trimmed.slice(0, -1) : trimmed;
      if (next === candidate) break;
      candidate = next;
    }
    const href = safeHref(candidate);
    if (!href) continue;
    const start = m.index;
    if (start > last) parts.push({ kind: "text", text: text.slice(last, start) });
    parts.push({ kind: "link", text: candidate, href });
    last = start + candidate.length;
  }
  if (last < text.length) parts.push({ kind: "text", text: text.slice(last) });
  return parts;
}

/** The address to link to, if it is a well-formed http(s) URL with a host. */
export function safeHref(candidate: string): string | null {
  try {
    const url = new URL(candidate);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    if (!url.hostname) return null;
    return url.href;
  } catch {
    return null;
  }
}

function balanced(s: string): boolean {
  const count = (c: string) => s.split(c).length - 1;
  return count("(") >= count(")") && count("[") >= count("]");
}

/** Messages longer than this (characters) or with more lines are shown shortened. */
export const COLLAPSE_CHARS = 700;
export const COLLAPSE_LINES = 12;

/**
 * The shortened text of a long message (cut at a space or line break where one is near, never
 * inside a web address, with "…"), or null when the message is short enough to show whole (or
 * is one long address, which cannot be cut).
 */
export function collapsedText(text: string): string | null {
  const lines = text.split("\n");
  let cut = text.length;
  if (lines.length > COLLAPSE_LINES) cut = lines.slice(0, COLLAPSE_LINES - 2).join("\n").length;
  if (cut > COLLAPSE_CHARS) cut = COLLAPSE_CHARS - 100;
  if (cut >= text.length) return null;
  const spaceBefore = (i: number) => Math.max(text.lastIndexOf(" ", i), text.lastIndexOf("\n", i));
  // Prefer to cut at whitespace, if there is some in the last fifth.
  const space = spaceBefore(cut);
  if (space > cut * 0.8) cut = space;
  // Never inside an address: a cut one would link somewhere else.
  if (!/\s/.test(text[cut] ?? " ")) {
    const tokenStart = spaceBefore(cut - 1) + 1;
    if (/^https?:\/\//i.test(text.slice(tokenStart, cut + 8))) {
      if (tokenStart === 0) return null;
      cut = tokenStart;
    }
  }
  const preview = text.slice(0, cut).trimEnd();
  return preview ? `${preview}…` : null;
}
