/**
 * The browser client's session classes (`src/frontend/game/`) against a real server, in Node:
 * the queue gets a match, the match session joins it, and while "keys" are held the predicted
 * position runs ahead of the server's and then agrees with it (reconciliation through the real
 * tick loop, inputs sent at the tick rate, none dropped by the server's guard); the score table
 * kept by the kills in the snapshots; a copy out of step with the server's put right by a full snapshot.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { MatchedEvent } from "../src/actors/index.js";
import { MatchSession } from "../src/frontend/game/match-session.js";
import { QueueSession } from "../src/frontend/game/queue.js";
import type { ScoreLine } from "../src/sim/scores.js";
import { startTestApp, type TestApp, waitFor } from "./helpers.js";

let app: TestApp | undefined;
const sessions: MatchSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.dispose();
  await app?.close();
  app = undefined;
});

const SOLO = { matchSize: 1, countdownMs: 100, matchDurationMs: 120_000 };

async function matchFor(app: TestApp, name: string): Promise<MatchedEvent> {
  const guest = await app.guest(name);
  return new Promise<MatchedEvent>((resolve, reject) => {
    new QueueSession(app.client, guest.token, { matched: resolve, failed: reject }).start();
  });
}

describe("the browser client's match session", () => {
  it("predicts the own player and agrees with the server once the keys are released", async () => {
    app = await startTestApp({ tuning: SOLO });
    const matched = await matchFor(app, "Ada");
    const session = new MatchSession(app.client, matched.matchId, matched.ticket);
    sessions.push(session);
    // Started, disposed and started again, as React's strict mode does in development.
    session.start();
    await session.dispose();
    session.start();
    await waitFor(() => session.getView().phase === "live" && session.frame().me, {
      what: "the match to be live with the player in it",
    });
    const you = session.getView().you!;
    const start = session.frame().me!;
    const dir = start.x < 800 ? 1 : -1;
    if (dir > 0) session.controls.keys.right = true;
    else session.controls.keys.left = true;

    // The prediction moves ahead of what the server has confirmed.
    await waitFor(() => (session.frame().me!.x - start.x) * dir > 60, {
      what: "the predicted player to move",
    });
    session.controls.keys.right = false;
    session.controls.keys.left = false;

    // Released: the server's position catches up and the prediction agrees with it.
    await waitFor(
      () => {
        const server = session.table.known.get(you);
        const me = session.frame().me!;
        return (
          server?.k === "p" &&
          (server.x - start.x) * dir > 60 &&
          session.predictor.pending.length === 0 &&
          Math.hypot(me.x - server.x, me.y - server.y) < 1
        );
      },
      { what: "the prediction to agree with the server" },
    );
    const stats = await app.client.match
      .get([matched.matchId], { params: { ticket: matched.ticket } })
      .getMatch();
    expect(stats.phase).toBe("live");
    expect(session.getView().status).toBe("connected");
    // The movement was predicted here, input by input, not only copied from the server.
    expect(session.predictor.counts.applied).toBeGreaterThan(5);
    await waitFor(() => session.getView().pingMs !== null, { what: "a ping figure" });
  });

  it("a reload as the match ends shows the results, not a bare refusal", async () => {
    app = await startTestApp({
      tuning: { ...SOLO, matchDurationMs: 1500, resultsKeepMs: 60_000 },
    });
    const matched = await matchFor(app, "Eve");
    const first = new MatchSession(app.client, matched.matchId, matched.ticket);
    sessions.push(first);
    first.start();
    await waitFor(() => first.getView().results, { what: "the results", timeout: 20_000 });
    const results = first.getView().results!;
    await waitFor(() => first.getView().status === "closed", { what: "the match to close" });
    // The page loads again with the match it had stored: the match refuses it, with the results.
    const again = new MatchSession(app.client, matched.matchId, matched.ticket);
    sessions.push(again);
    again.start();
    await waitFor(() => again.getView().status === "closed", { what: "the refusal" });
    expect(again.getView().error).toBeNull();
    expect(again.getView().results).toMatchObject({
      matchId: matched.matchId,
      lines: results.lines,
      ratingsAfter: results.ratingsAfter,
    });
  });

  it("a refused ticket ends the session with the refusal's code", async () => {
    app = await startTestApp({ tuning: SOLO });
    const matched = await matchFor(app, "Bo");
    const session = new MatchSession(app.client, matched.matchId, "not-a-ticket");
    sessions.push(session);
    session.start();
    await waitFor(() => session.getView().status === "closed", { what: "the refusal" });
    expect((session.getView().error as { code: string }).code).toBe("ticket_invalid");
  });

  it("keeps the score table with the kills in the snapshots, equal to the server's", async () => {
    app = await startTestApp({
      tuning: { matchSize: 8, botFillAfterMs: 100, countdownMs: 100, matchDurationMs: 120_000 },
    });
    const matched = await matchFor(app, "Cy");
    const session = new MatchSession(app.client, matched.matchId, matched.ticket);
    sessions.push(session);
    session.start();
    const total = (t: ScoreLine[]) => t.reduce((n, l) => n + l.kills, 0);
    await waitFor(() => total(session.getView().scores) >= 3, {
      what: "three kills in the HUD's table",
      timeout: 30_000,
    });
    const server = app.client.match.get([matched.matchId], { params: { ticket: matched.ticket } });
    // The server may be a kill ahead of what has arrived: compare once they agree on the count.
    await waitFor(
      async () => {
        const { scores } = await server.getMatch();
        const mine = session.getView().scores;
        if (total(scores) !== total(mine)) return false;
        expect(mine).toEqual(scores);
        return true;
      },
      { what: "the HUD's table to equal the server's" },
    );
    expect(session.getView().feed.length).toBeGreaterThan(0);
  });

  it("a snapshot it cannot read: logged once, then a full snapshot puts the copy right", async () => {
    app = await startTestApp({ tuning: SOLO });
    const matched = await matchFor(app, "Di");
    const session = new MatchSession(app.client, matched.matchId, matched.ticket);
    sessions.push(session);
    session.start();
    await waitFor(() => session.getView().phase === "live" && session.frame().me, {
      what: "the match to be live with the player in it",
    });
    const you = session.getView().you!;
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      // Keep moving, so that every snapshot carries a change to the own player (only the
      // changed fields), and make the page forget it: the next delta cannot be read.
      const start = session.frame().me!;
      session.controls.keys[start.x < 800 ? "right" : "left"] = true;
      session.table.known.delete(you);
      await waitFor(() => warn.mock.calls.length > 0, { what: "the broken frame to be logged" });
      // The match resends everything; the page knows its player again and reads what follows.
      await waitFor(() => session.table.known.has(you), { what: "a full snapshot" });
      const tick = session.table.tick;
      await waitFor(() => session.table.tick > tick + 5, { what: "more snapshots read" });
      expect(warn.mock.calls).toHaveLength(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/could not be read/);
      expect(String(warn.mock.calls[0]![1])).toMatch(/p\d+ is new to the receiver/);
      const server = session.table.known.get(you);
      const x = server?.k === "p" ? server.x : Number.NaN;
      expect(Math.abs(x - start.x)).toBeGreaterThan(0);
    } finally {
      warn.mockRestore();
    }
  });
});
