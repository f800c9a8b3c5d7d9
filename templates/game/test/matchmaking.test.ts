/**
 * Matchmaking through the typed client against a real server: players matched together, bots
 * filling a match after the wait, leaving, closed connections and duplicate entries.
 */
import { afterEach, describe, expect, it } from "vitest";
import { codeOf, startTestApp, type TestApp, waitFor } from "./helpers.js";

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe("matchmaking", () => {
  it("puts two players into the same match, each with a ticket of its own", async () => {
    app = await startTestApp({ tuning: { matchSize: 2, botFillAfterMs: 60_000 } });
    const [ada, bo] = await Promise.all([app.play("Ada"), app.play("Bo")]);
    expect(ada.matchId).toBe(bo.matchId);
    expect(ada.ticket).not.toBe(bo.ticket);
    expect(ada.me()).not.toBe(bo.me());
    const seats = ada.welcome[0]!.seats;
    expect(seats.map((s) => s.name).sort()).toEqual(["Ada", "Bo"]);
    expect(seats.every((s) => !s.bot)).toBe(true);
    // Each receives snapshots with its own entity in them.
    await waitFor(() => ada.known.has(ada.me()) && bo.known.has(bo.me()));
  });

  it("puts each of many players queuing at once into exactly one match", async () => {
    app = await startTestApp({ tuning: { matchSize: 2, botFillAfterMs: 60_000 } });
    const names = ["Ada", "Bo", "Cy", "Di", "Ed", "Flo"];
    const queued = await Promise.all(names.map((n) => app!.queueUp(n)));
    const byMatch = new Map<string, string[]>();
    for (const { guest, matched } of queued) {
      byMatch.set(matched.matchId, [...(byMatch.get(matched.matchId) ?? []), guest.player.name]);
    }
    expect([...byMatch.values()].map((players) => players.length)).toEqual([2, 2, 2]);
    for (const { matched } of queued) expect(matched.players).toHaveLength(2);
  });

  it("fills the match with bots once the first player has waited long enough", async () => {
    app = await startTestApp({ tuning: { matchSize: 4, botFillAfterMs: 300 } });
    const ada = await app.play("Ada");
    const seats = ada.welcome[0]!.seats;
    expect(seats).toHaveLength(4);
    expect(seats.filter((s) => s.bot)).toHaveLength(3);
    expect(seats.find((s) => s.entity === ada.me())).toMatchObject({ name: "Ada", bot: false });
  });

  it("keeps one entry per player: a second tab takes it over, the first is told", async () => {
    app = await startTestApp({ tuning: { matchSize: 2, botFillAfterMs: 60_000 } });
    const guest = await app.guest("Ada");
    const tab1 = app.lobby(guest);
    const tab2 = app.lobby(guest);
    const left: unknown[] = [];
    tab1.on("queueLeft", (e) => left.push(e));
    const first = await tab1.queue();
    const second = await tab2.queue();
    expect(second).toMatchObject({ queued: true, queuedAt: first.queuedAt, waiting: 1 });
    await waitFor(() => left.length === 1);
    expect(left).toEqual([{ reason: "replaced" }]);
    // Queuing again from the same tab changes nothing.
    expect(await tab2.queue()).toMatchObject({ queuedAt: first.queuedAt, waiting: 1 });
  });

  it("forgets a player who leaves or whose connection closes", async () => {
    app = await startTestApp({ tuning: { matchSize: 2, botFillAfterMs: 60_000 } });
    const ada = app.lobby(await app.guest("Ada"));
    await ada.queue();
    expect(await ada.leave()).toBe(true);
    expect(await ada.leave()).toBe(false);
    expect(await ada.queueStatus()).toMatchObject({ queued: false, waiting: 0 });

    const bo = app.lobby(await app.guest("Bo"));
    await bo.queue();
    await bo.dispose();
    const cy = app.lobby(await app.guest("Cy"));
    await waitFor(async () => (await cy.queueStatus()).waiting === 0);
    // Bo's entry went with its connection: Cy waits alone instead of being matched with nobody.
    expect(await cy.queue()).toMatchObject({ queued: true, waiting: 1 });
  });

  it("refuses a lobby without a guest token, and modes that do not exist", async () => {
    app = await startTestApp();
    const guest = await app.guest("Ada");
    expect(await codeOf(app.client.matchmaker.getOrCreate(["ffa"]).queueStatus())).toBe(
      "auth_required",
    );
    expect(
      await codeOf(
        app.client.matchmaker
          .getOrCreate(["duel"], { params: { token: guest.token } })
          .queueStatus(),
      ),
    ).toBe("unknown_mode");
    expect(
      await codeOf(
        app.client.matchmaker
          .getOrCreate(["ffa", "shadow"], { params: { token: guest.token } })
          .queueStatus(),
      ),
    ).toBe("unknown_mode");
  });

  it("refuses to let anyone but the matchmaker create a match", async () => {
    app = await startTestApp();
    const guest = await app.guest("Ada");
    const input = {
      mode: "ffa",
      players: [{ playerId: guest.player.id, name: "Ada", rating: 3000 }],
      bots: [],
    };
    expect(
      await codeOf(app.client.match.getOrCreate(["mine"], { createWithInput: input }).getMatch()),
    ).toBe("match_not_found");
    expect(await codeOf(app.client.match.create(["mine"], { input }))).toBe("match_not_found");
  });
});
