import { createScratchDatabase } from "troupe/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase, runMigrations } from "./index.js";
import {
  createRatingReader,
  type MatchResults,
  RATING_BATCH,
  ratingOf,
  ratingsOf,
  STARTING_RATING,
  writeResults,
} from "./results.js";

let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let database: Database;

beforeAll(async () => {
  scratch = await createScratchDatabase(process.env.DATABASE_URL!);
  database = openDatabase(scratch.url);
  await runMigrations(database);
});

afterAll(async () => {
  await database?.close();
  await scratch?.drop();
});

function results(matchId: string, changes: { ada: number; bo: number }): MatchResults {
  return {
    matchId,
    mode: "ffa",
    startedAt: 1_700_000_000_000,
    endedAt: 1_700_000_180_000,
    lines: [
      {
        playerId: "ada",
        name: "Ada",
        bot: false,
        score: 5,
        kills: 5,
        deaths: 1,
        rank: 1,
        won: true,
        ratingBefore: 1000,
        ratingChange: changes.ada,
      },
      {
        playerId: "bot-1",
        name: "Bot Ada",
        bot: true,
        score: 3,
        kills: 3,
        deaths: 2,
        rank: 2,
        won: false,
        ratingBefore: 1000,
        ratingChange: 0,
      },
      {
        playerId: "bo",
        name: "Bo",
        bot: false,
        score: 1,
        kills: 1,
        deaths: 4,
        rank: 3,
        won: false,
        ratingBefore: 1000,
        ratingChange: changes.bo,
      },
    ],
  };
}

describe("writeResults", () => {
  it("records the match, each human's line and their new rating; bots stay out", async () => {
    await writeResults(database.db, [
      { kind: "results", results: results("m1", { ada: 16, bo: -16 }) },
    ]);
    expect(await ratingOf(database.db, "ada")).toBe(STARTING_RATING + 16);
    expect(await ratingOf(database.db, "bo")).toBe(STARTING_RATING - 16);
    const { rows } = await database.pool.query(
      "SELECT player_id, rank, won, rating_before, rating_after FROM match_players ORDER BY rank",
    );
    expect(rows).toEqual([
      { player_id: "ada", rank: 1, won: true, rating_before: 1000, rating_after: 1016 },
      { player_id: "bo", rank: 3, won: false, rating_before: 1000, rating_after: 984 },
    ]);
    const { rows: bots } = await database.pool.query("SELECT bots FROM matches WHERE id = 'm1'");
    expect(bots).toEqual([{ bots: 1 }]);
  });

  it("applies a replayed entry once, and the next match on top of the stored rating", async () => {
    const entry = { kind: "results" as const, results: results("m2", { ada: 10, bo: -10 }) };
    await writeResults(database.db, [entry, entry]);
    await writeResults(database.db, [entry]);
    expect(await ratingOf(database.db, "ada")).toBe(STARTING_RATING + 16 + 10);
    const { rows } = await database.pool.query("SELECT games, wins FROM players WHERE id = 'ada'");
    expect(rows).toEqual([{ games: 2, wins: 2 }]);
    const { rows: line } = await database.pool.query(
      "SELECT rating_before, rating_after FROM match_players WHERE match_id = 'm2' AND player_id = 'bo'",
    );
    expect(line).toEqual([{ rating_before: 984, rating_after: 974 }]);
  });

  it("gives a player SQL has not seen the starting rating", async () => {
    expect(await ratingOf(database.db, "nobody")).toBe(STARTING_RATING);
  });
});

describe("createRatingReader", () => {
  it("reads the ratings of many players queuing at once with one query, each its own", async () => {
    await database.pool.query(
      `INSERT INTO players (id, name, rating, created_at, updated_at)
       SELECT 'q' || i, 'Q' || i, 1200 + i, now(), now() FROM generate_series(1, 50) AS i`,
    );
    const loads: string[][] = [];
    const rating = createRatingReader((ids) => {
      loads.push(ids);
      return ratingsOf(database.db, ids);
    });
    // 100 players at once (50 known, 50 new) and one of them asking twice.
    const ids = Array.from({ length: 100 }, (_, i) => `q${i + 1}`);
    const got = await Promise.all([...ids, "q7"].map((id) => rating(id)));
    expect(loads).toHaveLength(1);
    expect(new Set(loads[0])).toEqual(new Set(ids));
    expect(got.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => 1201 + i));
    expect(got.slice(50, 100)).toEqual(Array(50).fill(STARTING_RATING));
    expect(got[100]).toBe(1207);
    // A later lookup is a new query.
    expect(await rating("q2")).toBe(1202);
    expect(loads).toHaveLength(2);
  });

  it("splits a larger wave into queries of RATING_BATCH ids", async () => {
    const loads: number[] = [];
    const rating = createRatingReader((ids) => {
      loads.push(ids.length);
      return ratingsOf(database.db, ids);
    });
    const got = await Promise.all(
      Array.from({ length: RATING_BATCH + 3 }, (_, i) => rating(`w${i}`)),
    );
    expect(loads).toEqual([RATING_BATCH, 3]);
    expect(new Set(got)).toEqual(new Set([STARTING_RATING]));
  });

  it("tries a failed query once more, then gives every caller of the batch its error", async () => {
    let calls = 0;
    const flaky = createRatingReader(
      (ids) => (++calls === 1 ? Promise.reject(new Error("timeout")) : ratingsOf(database.db, ids)),
      { retryDelayMs: 1 },
    );
    expect(await Promise.all([flaky("q1"), flaky("nobody")])).toEqual([1201, STARTING_RATING]);
    expect(calls).toBe(2);
    let attempts = 0;
    const rating = createRatingReader(
      () => {
        attempts += 1;
        return Promise.reject(new Error("database away"));
      },
      { retryDelayMs: 1 },
    );
    const settled = await Promise.allSettled([rating("a"), rating("b"), rating("a")]);
    expect(settled.map((s) => (s.status === "rejected" ? String(s.reason) : s.status))).toEqual([
      "Error: database away",
      "Error: database away",
      "Error: database away",
    ]);
    expect(attempts).toBe(2);
  });
});
