/**
 * The score table a client shows, and how it changes. The match sends the whole table
 * (`scores`) when a player (re)connects (and with a `resync`); after that each kill is the
 * change, applied with `applyKill`. The kills travel in the snapshot of their tick
 * (interest/wire.ts). With 100 players a whole table is about 7 KB, and there are several kills
 * a second: resending it on every kill cost more than all the snapshots together (`bench:game`).
 *
 * @example
 * conn.on("scores", (lines) => (table = lines));
 * conn.on("snapshot", (payload) => {
 *   for (const k of decodeKills(payload)) table = applyKill(table, k);
 * });
 */

export interface ScoreLine {
  entity: string;
  name: string;
  bot: boolean;
  kills: number;
  deaths: number;
}

/**
 * Best first: most kills, then fewest deaths, then by entity (`p2` before `p10`), so a table
 * comes out in the same order however it was reached.
 */
export function sortScores(lines: ScoreLine[]): ScoreLine[] {
  return lines.sort(
    (a, b) =>
      b.kills - a.kills ||
      a.deaths - b.deaths ||
      a.entity.localeCompare(b.entity, "en", { numeric: true }),
  );
}

/** The table after `killer` killed `victim` (a new array; the lines of the two are new too). */
export function applyKill(
  lines: readonly ScoreLine[],
  kill: { killer: string; victim: string },
): ScoreLine[] {
  return sortScores(
    lines.map((l) => {
      if (l.entity === kill.killer) return { ...l, kills: l.kills + 1 };
      if (l.entity === kill.victim) return { ...l, deaths: l.deaths + 1 };
      return l;
    }),
  );
}
