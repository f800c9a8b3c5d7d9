/**
 * The end of a match: results and Elo ratings in SQL (also when the database is away at that
 * moment), the leaderboard and player pages reading them, the match destroyed afterwards; and a
 * server restart in the middle of a match, which resumes and ends when it was due to.
 */
import { captureLogger, proxyUrl, type TcpProxy } from "troupe/test";
import { afterEach, describe, expect, it } from "vitest";
import type { MatchResults } from "../src/db/results.js";
import { codeOf, type Player, startTestApp, type TestApp, waitFor } from "./helpers.js";

let app: TestApp | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.restore();
  await app?.close();
  await proxy?.close();
  app = proxy = undefined;
});

type Results = MatchResults & { ratingsAfter: Record<string, number> };

async function live(p: Player): Promise<void> {
  await waitFor(
    () =>
      p.welcome.at(-1)?.phase === "live" ||
      p.events.phase!.some((e) => (e as { phase: string }).phase === "live"),
    { what: "the match to be live" },
  );
}

async function resultsOf(p: Player, timeout = 20_000): Promise<Results> {
  return (await waitFor(() => p.events.results![0], {
    timeout,
    what: "the results",
  })) as Results;
}

describe("the end of a match", () => {
  it("writes results and Elo ratings to SQL, which the leaderboard shows, then goes away", async () => {
    app = await startTestApp({
      tuning: {
        matchSize: 2,
        botFillAfterMs: 60_000,
        countdownMs: 100,
        matchDurationMs: 1500,
        resultsKeepMs: 8000,
      },
    });
    // Ada has played before: SQL has her rating, which the matchmaker reads when she queues.
    const adaGuest = await app.guest("Ada");
    const now = new Date();
    await app.sql(
      "INSERT INTO players (id, name, rating, games, wins, created_at, updated_at) VALUES ($1, 'Ada', 1080, 3, 1, $2, $2)",
      [adaGuest.player.id, now],
    );
    const adaLobby = app.lobby(adaGuest);
    const adaMatched = new Promise<{ matchId: string; ticket: string }>((r) =>
      adaLobby.once("matched", r),
    );
    expect(await adaLobby.queue()).toMatchObject({ rating: 1080 });
    const bo = await app.play("Bo");
    const m = await adaMatched;
    await adaLobby.dispose();
    const ada = app.join(adaGuest, m.matchId, m.ticket);
    const closed: { code: number; reason: string }[] = [];
    ada.conn.onClose((e) => closed.push(e));

    const results = await resultsOf(ada);
    expect((await resultsOf(bo)).matchId).toBe(m.matchId);
    // Nobody scored: a draw between 1080 and 1000 costs the favourite what the other gains.
    const adaLine = results.lines.find((l) => l.name === "Ada")!;
    const boLine = results.lines.find((l) => l.name === "Bo")!;
    expect(adaLine).toMatchObject({ ratingBefore: 1080, ratingChange: -4, rank: 1, won: false });
    expect(boLine).toMatchObject({ ratingBefore: 1000, ratingChange: 4, rank: 1, won: false });
    expect(results.ratingsAfter).toEqual({
      [adaGuest.player.id]: 1076,
      [bo.guest.player.id]: 1004,
    });

    const rows = await waitFor(
      async () => {
        const r = await app!.sql<{ id: string; rating: number; games: number; wins: number }>(
          "SELECT id, rating, games, wins FROM players ORDER BY rating DESC",
        );
        return r.length === 2 ? r : undefined;
      },
      { what: "the ratings in SQL" },
    );
    expect(rows).toEqual([
      { id: adaGuest.player.id, rating: 1076, games: 4, wins: 1 },
      { id: bo.guest.player.id, rating: 1004, games: 1, wins: 0 },
    ]);
    const [match] = await app.sql<{ id: string; mode: string; bots: number }>(
      "SELECT id, mode, bots FROM matches",
    );
    expect(match).toEqual({ id: m.matchId, mode: "ffa", bots: 0 });

    const board = await app.get("/api/leaderboard");
    expect(board.status).toBe(200);
    expect(
      board.body.players.map((p: { name: string; rating: number; rank: number }) => [
        p.rank,
        p.name,
        p.rating,
      ]),
    ).toEqual([
      [1, "Ada", 1076],
      [2, "Bo", 1004],
    ]);
    const page = await app.get(`/api/players/${bo.guest.player.id}`);
    expect(page.body.player).toEqual({
      id: bo.guest.player.id,
      name: "Bo",
      rating: 1004,
      games: 1,
      wins: 0,
    });
    expect(page.body.recent).toEqual([
      expect.objectContaining({
        matchId: m.matchId,
        ratingBefore: 1000,
        ratingAfter: 1004,
        rank: 1,
      }),
    ]);
    expect((await app.get("/api/players/nobody")).body.error.code).toBe("player_not_found");

    // Once SQL has the results the match closes its connections and destroys itself.
    await waitFor(() => closed.length > 0);
    expect(closed[0]).toMatchObject({ code: 4000, reason: "match_over" });
    // Until then, a player coming back (a reload as the match ended) is refused with the results.
    const refusal = await app.client.match
      .get([m.matchId], { params: { ticket: m.ticket } })
      .getMatch()
      .then(
        () => null,
        (err: { code: string; metadata?: { results?: { matchId: string; lines: unknown[] } } }) =>
          err,
      );
    expect(refusal?.code).toBe("match_over");
    expect(refusal?.metadata?.results).toMatchObject({ matchId: m.matchId, lines: results.lines });
    await waitFor(
      async () =>
        (await codeOf(
          app!.client.match.get([m.matchId], { params: { ticket: m.ticket } }).getMatch(),
        )) === "actor_not_found",
      { what: "the match to be destroyed", timeout: 30_000 },
    );
  });

  it("keeps the results while the database is away and writes them when it is back", async () => {
    const logger = captureLogger();
    app = await startTestApp({
      logger,
      tuning: {
        matchSize: 1,
        botFillAfterMs: 60_000,
        countdownMs: 100,
        matchDurationMs: 1000,
        finishRetryMs: 200,
      },
      appDatabaseUrl: async (scratchUrl) => {
        const through = await proxyUrl(scratchUrl);
        proxy = through.proxy;
        return through.url;
      },
    });
    const ada = await app.play("Ada");
    await live(ada);
    await proxy!.cut();
    const results = await resultsOf(ada);
    expect(results.lines).toHaveLength(1);
    // The match holds on to them: retried, not lost, and still there for whoever asks.
    await waitFor(() => logger.entries.some((e) => e.message.includes("SQL write failed")), {
      what: "a failed write",
    });
    expect((await ada.conn.getMatch()).phase).toBe("ended");
    expect(await app.sql("SELECT id FROM matches")).toEqual([]);

    await proxy!.restore();
    await waitFor(async () => (await app!.sql("SELECT id FROM matches")).length === 1, {
      timeout: 20_000,
      what: "the results in SQL",
    });
    const [row] = await app.sql<{ rating_after: number }>("SELECT rating_after FROM match_players");
    expect(row).toEqual({ rating_after: 1000 });
    for (const e of logger.entries) {
      expect(e.level, e.message).toBe("warn");
      expect(e.message).toMatch(/^\[game\/db\] connection lost|^\[outbox\] SQL write/);
    }
  });
});

describe("a server restart in the middle of a match", () => {
  it("resumes the match from its state, with the scores it had, reconnects the player to its entity, and ends on time", async () => {
    // Ada stands still among seven bots: in 3,000 simulated matches of that kind the first kill
    // came within 3 s (59 ticks), so 20 s leave the kills below and the restart ample time.
    app = await startTestApp({
      tuning: {
        matchSize: 8,
        botFillAfterMs: 100,
        countdownMs: 100,
        matchDurationMs: 20_000,
        reconnectGraceMs: 30_000,
      },
    });
    const ada = await app.play("Ada");
    await live(ada);
    // `getMatch` stores the kills counted so far before it answers (they otherwise reach state
    // once a second, SCORE_STORE_MS), so what it returns is what a restart must keep.
    const before = await waitFor(
      async () => {
        const m = await ada.conn.getMatch();
        return m.scores.some((line) => line.kills > 0) ? m : undefined;
      },
      { what: "a kill before the restart" },
    );
    expect(before.phase).toBe("live");
    const adaEntity = ada.me();

    await app.restart();

    // The client reconnects by itself and is welcomed back to the same seat.
    await waitFor(() => ada.welcome.length === 2, { what: "Ada back" });
    expect(ada.welcome[1]).toMatchObject({ you: adaEntity, phase: "live", endsAt: before.endsAt });
    const after = await ada.conn.getMatch();
    expect(after).toMatchObject({
      phase: "live",
      startedAt: before.startedAt,
      endsAt: before.endsAt,
    });
    // Every seat's kills and deaths from before the restart are still there (the match plays
    // on, so they may only have grown).
    const scoresAfter = new Map(after.scores.map((line) => [line.entity, line]));
    for (const line of before.scores) {
      const now = scoresAfter.get(line.entity)!;
      expect(now.kills, line.name).toBeGreaterThanOrEqual(line.kills);
      expect(now.deaths, line.name).toBeGreaterThanOrEqual(line.deaths);
    }
    const tickAfterRestart = ada.snapshots.at(-1)!.t;
    await waitFor(() => ada.snapshots.at(-1)!.t > tickAfterRestart + 3, { what: "ticks again" });

    const results = await resultsOf(ada, 60_000);
    // The durable `end` alarm ends it at `endsAt`: not before, and not long after (5 s is far
    // more than any delay of a busy machine; a match that only ended later, when something else
    // woke it, would miss it).
    expect(results.endedAt).toBeGreaterThanOrEqual(before.endsAt!);
    expect(results.endedAt).toBeLessThanOrEqual(before.endsAt! + 5000);
    expect(results.startedAt).toBe(before.startedAt);
    // By name: the results have no entity ids, and the eight names of this match differ.
    const linesAfter = new Map(results.lines.map((line) => [line.name, line]));
    for (const line of before.scores) {
      expect(linesAfter.get(line.name)!.kills, line.name).toBeGreaterThanOrEqual(line.kills);
      expect(linesAfter.get(line.name)!.deaths, line.name).toBeGreaterThanOrEqual(line.deaths);
    }
    const [row] = await waitFor(
      async () => {
        const r = await app!.sql<{ ended_at: Date }>("SELECT ended_at FROM matches");
        return r.length === 1 ? r : undefined;
      },
      { what: "the match in SQL" },
    );
    expect(row!.ended_at.getTime()).toBe(results.endedAt);
  }, 120_000);
});
