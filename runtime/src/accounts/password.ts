/**
 * Password hashing with `node:crypto` scrypt: no dependency, memory-hard, and in every Node.
 *
 * A stored hash is one self-describing string, `scrypt$<N>$<r>$<p>$<salt>$<hash>` (salt and hash
 * in base64url), so the cost can be raised later without breaking older accounts: verification
 * reads the parameters from the hash, not from the current defaults.
 *
 * Cost: N = 2^15, r = 8, p = 1 takes 32 MiB and roughly 50-100 ms per hash on a server core.
 * scrypt runs on libuv's thread pool (4 threads by default), so at most 4 × 32 MiB are in use
 * however many sign-ins arrive at once. Tests pass a lower N to stay quick.
 *
 * @example
 * const stored = await hashPassword("correct horse battery staple");
 * await verifyPassword("correct horse battery staple", stored); // true
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "./rules.js";

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelisation. */
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
const SALT_BYTES = 16;
const KEY_BYTES = 64;
/** Refuse stored parameters beyond this (a corrupted or hostile row must not eat the memory). */
const MAX_N = 2 ** 20;

/**
 * The length policy, and nothing else: no composition rules (they push people to predictable
 * patterns); length is what makes a password hard to guess.
 */
export const passwordSchema = z
  .string({ error: "Enter a password." })
  .min(MIN_PASSWORD_LENGTH, `A password has at least ${MIN_PASSWORD_LENGTH} characters.`)
  .max(MAX_PASSWORD_LENGTH, `A password has at most ${MAX_PASSWORD_LENGTH} characters.`);

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFKC"),
      salt,
      KEY_BYTES,
      // scrypt needs 128 * N * r bytes; Node's default ceiling (32 MiB) is just below N = 2^15.
      { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/** A new hash of `password` with a random salt, parameters included. */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params);
  return [
    "scrypt",
    params.N,
    params.r,
    params.p,
    salt.toString("base64url"),
    key.toString("base64url"),
  ].join("$");
}

/** Whether `password` matches `stored`; false (never a throw) for a malformed stored hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.params);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/** The parameters a stored hash was made with (to rehash on sign-in when they are outdated). */
export function hashParams(stored: string): ScryptParams | undefined {
  return parseHash(stored)?.params;
}

function parseHash(
  stored: string,
): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const isPowerOfTwo = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!isPowerOfTwo || N > MAX_N) return undefined;
  if (!Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) {
    return undefined;
  }
  const salt = Buffer.from(parts[4]!, "base64url");
  const key = Buffer.from(parts[5]!, "base64url");
  if (salt.length < 8 || key.length < 16) return undefined;
  return { params: { N, r, p }, salt, key };
}

/**
 * A hash to verify against when the account does not exist, so that "no such user" takes as
 * long as "wrong password" and timing does not tell which it was.
 */
export function dummyHash(params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  return hashPassword(randomBytes(16).toString("hex"), params);
}
