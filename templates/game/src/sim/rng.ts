/**
 * A seeded random number generator (mulberry32) whose whole state is one 32-bit integer, so it
 * lives inside the world and a world plus its inputs always steps the same way.
 *
 * @example
 * const rng = { state: seedFrom("match-1") };
 * const roll = nextFloat(rng); // [0, 1)
 */

export interface RngState {
  rng: number;
}

/** The next number in [0, 1); advances `holder.rng`. */
export function nextFloat(holder: RngState): number {
  holder.rng = (holder.rng + 0x6d2b79f5) | 0;
  let t = holder.rng;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** An integer in [0, n). */
export function nextInt(holder: RngState, n: number): number {
  return Math.floor(nextFloat(holder) * n);
}

/** A 32-bit seed from a string (FNV-1a), e.g. from a match id. */
export function seedFrom(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}
