/**
 * A finished match on its way to SQL. The match actor computes the results (scores, ranks, Elo
 * changes) when it ends and queues them as one outbox entry in the same state change
 * (`troupe/outbox`), so they survive a restart and a database outage; `writeResults` writes a
 * batch of such entries, each in its own transaction.
 *
 * Idempotent, as the outbox needs (a crash between commit and removal replays the entry): the
 * `matches` row is inserted first with `ON CONFLICT DO NOTHING`, and only a match inserted now
 * goes on to change players. Ratings are applied as changes to the stored rating (with the row
 * locked), so `rating_before` / `rating_after` record what SQL really held.
 */
import { eq, inArray, sql } from "drizzle-orm";
import { type Db, inTransaction } from "./index.js";
import { matches, matchPlayers, players } from "./schema.js";

export interface MatchResultLine {
  playerId: string;
  name: string;
  bot: boolean;
  score: number;
  kills: number;
  deaths: number;
  rank: number;
  won: boolean;
  /** Rating at the start of the match (what the Elo change was computed from). */
  ratingBefore: number;
  ratingChange: number;
}

export interface MatchResults {
  matchId: string;
  mode: string;
  startedAt: number;
  endedAt: number;
  lines: MatchResultLine[];
}

/** What the match queues for SQL. */
export type GameOutboxEntry = { kind: "results"; results: MatchResults };

/** A new player's rating. */
export const STARTING_RATING = 1000;

export async function writeResults(db: Db, batch: readonly GameOutboxEntry[]): Promise<void> {
  for (const entry of batch) {
    const r = entry.results;
    await inTransaction(db, async (tx) => {
      const inserted = await tx
        .insert(matches)
        .values({
          id: r.matchId,
          mode: r.mode,
          startedAt: new Date(r.startedAt),
          endedAt: new Date(r.endedAt),
          bots: r.lines.filter((l) => l.bot).length,
        })
        .onConflictDoNothing()
        .returning({ id: matches.id });
      if (inserted.length === 0) return; // written before: a replay
      const now = new Date(r.endedAt);
      // In id order, so that two matches ending at once lock their players in the same order.
      const humans = r.lines
        .filter((l) => !l.bot)
        .sort((a, b) => (a.playerId < b.playerId ? -1 : 1));
      for (const line of humans) {
        const [row] = await tx
          .insert(players)
          .values({
            id: line.playerId,
            name: line.name,
            rating: STARTING_RATING + line.ratingChange,
            games: 1,
            wins: line.won ? 1 : 0,
            createdAt: now,
            updatedAt: now,
          })
          .onConflictDoUpdate({
            target: players.id,
            set: {
              name: sql`excluded.name`,
              rating: sql`${players.rating} + ${line.ratingChange}`,
              games: sql`${players.games} + 1`,
              wins: sql`${players.wins} + ${line.won ? 1 : 0}`,
              updatedAt: now,
            },
          })
          .returning({ rating: players.rating });
        const ratingAfter = row!.rating;
        await tx.insert(matchPlayers).values({
          matchId: r.matchId,
          playerId: line.playerId,
          name: line.name,
          score: line.score,
          kills: line.kills,
          deaths: line.deaths,
          rank: line.rank,
          won: line.won,
          ratingBefore: ratingAfter - line.ratingChange,
          ratingAfter,
        });
      }
    });
  }
}

/** A player's stored rating, or the starting one for a player not in SQL yet. */
export async function ratingOf(db: Db, playerId: string): Promise<number> {
  const [row] = await db
    .select({ rating: players.rating })
    .from(players)
    .where(eq(players.id, playerId));
  return row?.rating ?? STARTING_RATING;
}

/** Ids read in one query at most (a larger wave of lookups takes several). */
export const RATING_BATCH = 500;

/**
 * `ratingOf` for many callers at once: the lookups asked for in the same turn of the event loop
 * are read with one query (`WHERE id IN (…)`), and each caller gets its own rating (the starting
 * one for a player not in SQL yet). A hundred players pressing Play together cost one pooled
 * connection for one query instead of a hundred queries queuing for the pool's ten connections,
 * where the last ones outwaited the pool's acquire timeout on a loaded machine. A query that
 * fails is tried once more after `retryDelayMs` (opening a pooled connection can outwait its 3 s
 * on a machine that busy); if that fails too, every caller of the batch gets the error.
 *
 * @example
 * const rating = createRatingReader((ids) => ratingsOf(db, ids));
 * await rating("player-1");
 */
export function createRatingReader(
  load: (ids: string[]) => Promise<Map<string, number>>,
  { retryDelayMs = 250 }: { retryDelayMs?: number } = {},
): (playerId: string) => Promise<number> {
  const loadWithRetry = (ids: string[]) =>
    load(ids).catch(async () => {
      await new Promise((r) => setTimeout(r, retryDelayMs));
      return load(ids);
    });
  let waiting = new Map<string, PromiseWithResolversLike<number>[]>();
  let scheduled = false;
  const run = () => {
    scheduled = false;
    const batch = waiting;
    waiting = new Map();
    const ids = [...batch.keys()];
    for (let i = 0; i < ids.length; i += RATING_BATCH) {
      const chunk = ids.slice(i, i + RATING_BATCH);
      loadWithRetry(chunk).then(
        (ratings) => {
          for (const id of chunk) {
            for (const w of batch.get(id)!) w.resolve(ratings.get(id) ?? STARTING_RATING);
          }
        },
        (err: unknown) => {
          for (const id of chunk) for (const w of batch.get(id)!) w.reject(err);
        },
      );
    }
  };
  return (playerId) =>
    new Promise<number>((resolve, reject) => {
      const list = waiting.get(playerId);
      if (list) list.push({ resolve, reject });
      else waiting.set(playerId, [{ resolve, reject }]);
      if (!scheduled) {
        scheduled = true;
        setImmediate(run);
      }
    });
}

interface PromiseWithResolversLike<T> {
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

/** The stored ratings of these players (those not in SQL are left out). */
export async function ratingsOf(db: Db, playerIds: string[]): Promise<Map<string, number>> {
  if (playerIds.length === 0) return new Map();
  const rows = await db
    .select({ id: players.id, rating: players.rating })
    .from(players)
    .where(inArray(players.id, playerIds));
  return new Map(rows.map((r) => [r.id, r.rating]));
}
