/**
 * API keys: `rl_<tenantId>_<43 characters of base64url>` (32 random bytes). The tenant id in
 * the key only says which coordinator to ask; the key is valid only if the SHA-256 of the whole
 * key is one of that tenant's stored hashes. Only the hash and a short prefix (for people to
 * recognise their keys) are stored; the key itself is shown once, when created.
 *
 * A lookup is by hash in a map, so how long it takes does not depend on how much of a guessed
 * key is right: there is no timing oracle on the secret.
 *
 * @example
 * const { key, hash, prefix } = generateApiKey("acme");
 * parseApiKey(key) // → { ok: true, tenantId: "acme", hash }
 */
import * as crypto from "node:crypto";

const API_KEY = /^rl_([a-z0-9][a-z0-9-]{0,39})_([A-Za-z0-9_-]{43})$/;
/** Characters of the secret kept (with `rl_<tenant>_`) as the key's visible prefix. */
const PREFIX_SECRET_CHARS = 6;

/** `crypto.hash` (one call, no `Hash` object: about twice as fast) where the host has it. */
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: "hex") => string }).hash;

export function hashApiKey(key: string): string {
  return oneShot
    ? oneShot("sha256", key, "hex")
    : crypto.createHash("sha256").update(key).digest("hex");
}

export function generateApiKey(tenantId: string): { key: string; hash: string; prefix: string } {
  const secret = crypto.randomBytes(32).toString("base64url");
  const key = `rl_${tenantId}_${secret}`;
  return {
    key,
    hash: hashApiKey(key),
    prefix: `rl_${tenantId}_${secret.slice(0, PREFIX_SECRET_CHARS)}`,
  };
}

export type ParsedApiKey =
  | { ok: true; tenantId: string; hash: string }
  | { ok: false; code: "missing_api_key" | "malformed_api_key" };

/** Reads `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function parseApiKey(raw: string | undefined | null): ParsedApiKey {
  if (raw === undefined || raw === null || raw.trim() === "") {
    return { ok: false, code: "missing_api_key" };
  }
  const m = API_KEY.exec(raw.trim());
  if (!m) return { ok: false, code: "malformed_api_key" };
  return { ok: true, tenantId: m[1]!, hash: hashApiKey(raw.trim()) };
}
