import { describe, expect, it, vi } from "vitest";
import type { ScoreLine } from "../../actors/index.js";
import { TICK_MS } from "../../sim/constants.js";
import { MatchSession } from "./match-session.js";

/** A connection that only records handlers, so a test can hand the session events itself. */
function fakeClient() {
  const handlers = new Map<string, (payload: unknown) => void>();
  const conn = {
    status: "connected",
    on: (name: string, h: (payload: unknown) => void) => handlers.set(name, h),
    onError: () => {},
    onStatusChange: () => {},
    notify: { input: () => true },
    ping: () => Promise.resolve(Date.now()),
    resync: () => Promise.resolve(),
    dispose: () => Promise.resolve(),
  };
  const client = { match: { get: () => ({ connect: () => conn }) } };
  return {
    client: client as unknown as ConstructorParameters<typeof MatchSession>[0],
    emit: (name: string, payload: unknown) => handlers.get(name)!(payload),
  };
}

const line = (entity: string, name: string): ScoreLine => ({
  entity,
  name,
  bot: false,
  kills: 0,
  deaths: 0,
});

describe("MatchSession's score table", () => {
  it("takes the kills a snapshot carries, even when its entities cannot be applied", async () => {
    const { client, emit } = fakeClient();
    const session = new MatchSession(client, "m1", "ticket");
    session.start();
    try {
      emit("scores", [line("p1", "Ada"), line("p2", "Bo"), line("p3", "Cy")]);
      emit("snapshot", { t: 10, a: -1, f: 1, e: [1, 31, 1000, 1000, 0, 100, 1], k: [2, 3] });
      expect(session.getView().scores.map((l) => [l.entity, l.kills, l.deaths])).toEqual([
        ["p2", 1, 0],
        ["p1", 0, 0],
        ["p3", 0, 1],
      ]);
      // p7 is new to this page but its record has only an x: the entities cannot be read.
      const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
      try {
        emit("snapshot", { t: 11, a: -1, e: [7, 1, 50], k: [2, 1, 3, 2] });
        expect(warn).toHaveBeenCalledTimes(1);
      } finally {
        warn.mockRestore();
      }
      expect(session.table.tick).toBe(10);
      expect(session.getView().scores.map((l) => [l.entity, l.kills, l.deaths])).toEqual([
        ["p2", 2, 1],
        ["p3", 1, 1],
        ["p1", 0, 1],
      ]);
      // The feed, newest first.
      expect(session.getView().feed.map((k) => `${k.killer}>${k.victim}`)).toEqual([
        "p3>p2",
        "p2>p1",
        "p2>p3",
      ]);
    } finally {
      await session.dispose();
    }
  });
});

describe("MatchSession's own spawn shield", () => {
  it("is the server's, and ends at once with a shot the server has not applied yet", async () => {
    vi.useFakeTimers();
    const { client, emit } = fakeClient();
    const session = new MatchSession(client, "m1", "ticket", () => Date.now());
    session.start();
    try {
      emit("welcome", {
        matchId: "m1",
        you: "p1",
        phase: "live",
        startsAt: 0,
        endsAt: Date.now() + 60_000,
        seats: [],
        ticket: "t2",
        tickRate: 20,
      });
      // p1 alive and shielded (state 2).
      emit("snapshot", { t: 10, a: -1, f: 1, e: [1, 31, 1000, 1000, 0, 100, 2] });
      expect(session.frame().me?.shielded).toBe(true);
      expect(session.getView().shielded).toBe(true);
      // Walking keeps it; the first shot ends it on the server in the tick that applies it, so
      // the page shows it gone as soon as the shot is sent.
      session.controls.keys.right = true;
      vi.advanceTimersByTime(TICK_MS);
      expect(session.frame().me?.shielded).toBe(true);
      session.controls.keys.fire = true;
      vi.advanceTimersByTime(TICK_MS);
      expect(session.frame().me?.shielded).toBe(false);
      // A snapshot from before the shot was applied still says shielded: the shot stands.
      emit("snapshot", { t: 11, a: 1, e: [1, 1, 1110] });
      expect(session.frame().me?.shielded).toBe(false);
      expect(session.getView().shielded).toBe(false);
      // Applied (ack 2): the server says so too.
      emit("snapshot", { t: 12, a: 2, e: [1, 17, 1220, 1] });
      expect(session.frame().me?.shielded).toBe(false);
    } finally {
      await session.dispose();
      vi.useRealTimers();
    }
  });
});
