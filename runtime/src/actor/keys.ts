/**
 * Actor keys are arrays of strings. They are encoded with JSON, which is injective for string
 * arrays: ["a/b", "c"], ["a", "b/c"], ["a,b"] and ["a", "b"] all encode differently, so no user
 * value can collide with another key. Never build a key by joining strings.
 */
import { TroupeError } from "../errors.js";

/** Largest encoded key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 2048;

export type ActorKey = string[];

/** Accepts what the public API accepts (array, single string or nothing) and returns an array. */
export function normalizeKey(key: unknown): ActorKey {
  if (key === undefined || key === null) return [];
  if (typeof key === "string") return [key];
  if (!Array.isArray(key) || !key.every((part) => typeof part === "string")) {
    throw new TroupeError("invalid_key", "An actor key must be an array of strings.");
  }
  const encoded = JSON.stringify(key);
  if (new TextEncoder().encode(encoded).byteLength > MAX_KEY_BYTES) {
    throw new TroupeError(
      "key_too_long",
      `This actor key encodes to more than ${MAX_KEY_BYTES} bytes. Use shorter key parts, or a hash of long values.`,
    );
  }
  return key as ActorKey;
}

/** The canonical, collision-free string form of a key, for use as a map or index key. */
export function encodeKey(key: readonly string[]): string {
  return JSON.stringify(key);
}

export function decodeKey(encoded: string): ActorKey {
  return JSON.parse(encoded) as ActorKey;
}
