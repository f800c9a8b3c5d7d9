import { describe, expect, it } from "vitest";
import { computeResults, type MatchState, percentile, type Seat } from "./match.js";

function seat(entity: string, kills: number, deaths: number, bot = false, rating = 1000): Seat {
  return {
    entity,
    playerId: `id-${entity}`,
    name: entity,
    rating,
    bot,
    kills,
    deaths,
    left: false,
    awayAlarm: null,
  };
}

function state(seats: Seat[]): MatchState {
  return {
    matchId: "m",
    mode: "ffa",
    seed: 1,
    phase: "live",
    createdAt: 0,
    startsAt: 100,
    startedAt: 100,
    endsAt: 1000,
    endedAt: null,
    seats: Object.fromEntries(seats.map((s) => [s.entity, s])),
    results: null,
    outbox: [],
    outboxSeq: 0,
  };
}

describe("computeResults", () => {
  it("ranks by kills then fewer deaths, names a sole winner, and changes only humans' ratings", () => {
    const r = computeResults(
      state([seat("p1", 2, 3), seat("p2", 5, 1, true), seat("p3", 2, 1), seat("p4", 0, 4)]),
      1000,
    );
    expect(r.lines.map((l) => [l.name, l.rank, l.won])).toEqual([
      ["p2", 1, true],
      ["p3", 2, false],
      ["p1", 3, false],
      ["p4", 4, false],
    ]);
    expect(r.lines.find((l) => l.bot)!.ratingChange).toBe(0);
    expect(r.lines.find((l) => l.name === "p3")!.ratingChange).toBeGreaterThan(0);
    expect(r.lines.find((l) => l.name === "p4")!.ratingChange).toBeLessThan(0);
    expect(r).toMatchObject({ matchId: "m", startedAt: 100, endedAt: 1000 });
  });

  it("shares a rank on a tie, and a tie for first has no winner", () => {
    const r = computeResults(state([seat("a", 3, 1), seat("b", 3, 1), seat("c", 1, 0)]), 1000);
    expect(r.lines.map((l) => [l.name, l.rank, l.won])).toEqual([
      ["a", 1, false],
      ["b", 1, false],
      ["c", 3, false],
    ]);
  });
});

describe("percentile", () => {
  it("takes the nearest rank", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 0.5)).toBe(50);
    expect(percentile(values, 0.99)).toBe(99);
    expect(percentile([], 0.5)).toBe(0);
  });
});
