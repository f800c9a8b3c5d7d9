/**
 * The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-10), as Structured
 * Field lists: `RateLimit-Policy` names each quota policy with its quota `q` and window `w`
 * (seconds); `RateLimit` gives its remaining quota `r` and the seconds `t` until it resets.
 *
 * @example
 * policyHeader({ id: "search", limit: 100, windowSeconds: 60, ... }) // "search";q=100;w=60
 * rateLimitHeader({ id: "search", remaining: 42, resetSeconds: 30, ... }) // "search";r=42;t=30
 */
import type { PolicyStatus } from "../limiter/verdict.js";

/** A Structured Field sf-string: quotes and backslashes escaped, printable ASCII only. */
export function sfString(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, "");
  return `"${printable.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
}

/** A non-negative sf-integer (the draft's q, w, r and t are all integers). */
function sfInteger(n: number): number {
  return Math.max(0, Math.min(999_999_999_999_999, Math.floor(n)));
}

/**
 * Formatted names and policies by policy id: a service has a handful of policies, and every
 * response carries one, so each is escaped and formatted once. Bounded (cleared when full),
 * since a policy id is whatever a rule was named.
 */
const formatted = new Map<
  string,
  { name: string; limit: number; window: number; policy: string }
>();
const MAX_FORMATTED = 1024;

function formattedFor(p: PolicyStatus) {
  let f = formatted.get(p.id);
  if (!f || f.limit !== p.limit || f.window !== p.windowSeconds) {
    const name = f?.name ?? sfString(p.id);
    f = {
      name,
      limit: p.limit,
      window: p.windowSeconds,
      policy: `${name};q=${sfInteger(p.limit)};w=${sfInteger(p.windowSeconds)}`,
    };
    if (formatted.size >= MAX_FORMATTED) formatted.clear();
    formatted.set(p.id, f);
  }
  return f;
}

export function policyHeader(p: PolicyStatus): string {
  return formattedFor(p).policy;
}

export function rateLimitHeader(p: PolicyStatus): string {
  return `${formattedFor(p).name};r=${sfInteger(p.remaining)};t=${sfInteger(p.resetSeconds)}`;
}

/** `Retry-After` in whole seconds, at least 1 (a refused client should not retry at once). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
