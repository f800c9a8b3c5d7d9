/**
 * Elo for a free-for-all: every pair of players in a match is a game between the two, won by
 * the higher score (a draw when equal). A player's change is `K / (n - 1)` times the sum over
 * its opponents of (result - expected result), so a match of n players moves a rating about as
 * much as one game does. Bots take part at their fixed rating; only humans' ratings change.
 *
 * @example
 * eloChanges([{ id: "a", rating: 1000, score: 5 }, { id: "b", rating: 1000, score: 2 }]);
 * // { a: 16, b: -16 }
 */

export const ELO_K = 32;

export interface Standing {
  id: string;
  rating: number;
  score: number;
}

/** Expected result of a player rated `a` against one rated `b` (0..1). */
export function expectedScore(a: number, b: number): number {
  return 1 / (1 + 10 ** ((b - a) / 400));
}

/** Rating change of each player, rounded to whole points. */
export function eloChanges(standings: readonly Standing[]): Record<string, number> {
  const out: Record<string, number> = {};
  const n = standings.length;
  for (const me of standings) {
    let sum = 0;
    for (const other of standings) {
      if (other === me) continue;
      const result = me.score > other.score ? 1 : me.score < other.score ? 0 : 0.5;
      sum += result - expectedScore(me.rating, other.rating);
    }
    out[me.id] = n > 1 ? Math.round((ELO_K / (n - 1)) * sum) : 0;
  }
  return out;
}
