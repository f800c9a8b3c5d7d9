import { describe, expect, it } from "vitest";
import {
  BASE_RATING_WINDOW,
  BOT_RATING,
  compatible,
  enqueuePlayer,
  fillGroup,
  findFullGroup,
  MATCH_SIZE,
  MAX_RATING_WINDOW,
  type Queue,
  type QueueEntry,
  ratingWindow,
  removeFromQueue,
  WINDOW_WIDEN_PER_SECOND,
} from "./queue.js";

const T0 = 1_700_000_000_000;

function entry(playerId: string, rating: number, queuedAt = T0): QueueEntry {
  return { playerId, name: playerId, rating, queuedAt, connId: `conn-${playerId}` };
}

describe("rating window", () => {
  it("starts narrow, widens with waiting time, and stops at the maximum", () => {
    expect(ratingWindow(0)).toBe(BASE_RATING_WINDOW);
    expect(ratingWindow(2000)).toBe(BASE_RATING_WINDOW + 2 * WINDOW_WIDEN_PER_SECOND);
    expect(ratingWindow(3_600_000)).toBe(MAX_RATING_WINDOW);
  });

  it("pairs distant ratings only once both have waited long enough", () => {
    const a = entry("a", 1000);
    const b = entry("b", 1300, T0 + 1000);
    expect(compatible(a, b, T0 + 1000)).toBe(false);
    // a has waited 5 s (window 350) but b only 4 s (window 300): the narrower one decides.
    expect(compatible(a, b, T0 + 4999)).toBe(false);
    expect(compatible(a, b, T0 + 5000)).toBe(true);
  });
});

describe("forming matches", () => {
  it("forms a full match of mutually compatible players, oldest first", () => {
    const queue = Array.from({ length: MATCH_SIZE + 2 }, (_, i) =>
      entry(`p${i}`, 1000 + i * 10, T0 + i),
    );
    const group = findFullGroup(queue, T0 + 100);
    expect(group?.map((e) => e.playerId)).toEqual(
      Array.from({ length: MATCH_SIZE }, (_, i) => `p${i}`),
    );
  });

  it("does not form a match while too few players are compatible", () => {
    const queue = [
      ...Array.from({ length: MATCH_SIZE - 1 }, (_, i) => entry(`near${i}`, 1000)),
      entry("far", 2000),
    ];
    expect(findFullGroup(queue, T0)).toBeUndefined();
  });

  it("fills with bots after the wait: the compatible humans, then bots up to the size", () => {
    const anchor = entry("a", 1000);
    const queue = [anchor, entry("b", 1050, T0 + 10), entry("c", 1900, T0 + 20)];
    const { humans, bots } = fillGroup(anchor, queue, T0 + 5000);
    expect(humans.map((h) => h.playerId)).toEqual(["a", "b"]);
    expect(bots).toHaveLength(MATCH_SIZE - 2);
    expect(new Set(bots.map((b) => b.playerId)).size).toBe(bots.length);
    expect(bots.every((b) => b.rating === BOT_RATING && b.name.startsWith("Bot "))).toBe(true);
    // Alone, a player gets a whole match of bots.
    expect(fillGroup(anchor, [anchor], T0 + 5000).bots).toHaveLength(MATCH_SIZE - 1);
  });
});

describe("the queue", () => {
  it("keeps one entry per player: queuing again from another tab moves it, keeping its place", () => {
    const queue: Queue = {};
    const first = enqueuePlayer(
      queue,
      { playerId: "a", name: "Ada", rating: 1000, connId: "c1" },
      T0,
    );
    expect(first).toMatchObject({ added: true, replaced: undefined });
    const again = enqueuePlayer(
      queue,
      { playerId: "a", name: "Ada", rating: 1000, connId: "c2" },
      T0 + 3000,
    );
    expect(again).toMatchObject({ added: false, replaced: "c1" });
    expect(Object.values(queue)).toEqual([
      { playerId: "a", name: "Ada", rating: 1000, connId: "c2", queuedAt: T0 },
    ]);
    // The same connection again: nothing changes.
    expect(
      enqueuePlayer(queue, { playerId: "a", name: "Ada", rating: 1000, connId: "c2" }, T0 + 4000),
    ).toMatchObject({ added: false, replaced: undefined });
  });

  it("removes an entry by player (leaving) or by connection (closed)", () => {
    const queue: Queue = {};
    enqueuePlayer(queue, { playerId: "a", name: "A", rating: 1000, connId: "c1" }, T0);
    enqueuePlayer(queue, { playerId: "b", name: "B", rating: 1000, connId: "c2" }, T0);
    expect(removeFromQueue(queue, { playerId: "a" })?.playerId).toBe("a");
    expect(removeFromQueue(queue, { playerId: "a" })).toBeUndefined();
    expect(removeFromQueue(queue, { connId: "c2" })?.playerId).toBe("b");
    expect(queue).toEqual({});
  });
});
