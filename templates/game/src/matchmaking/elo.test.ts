import { describe, expect, it } from "vitest";
import { ELO_K, eloChanges, expectedScore } from "./elo.js";

describe("Elo", () => {
  it("expects even odds between equals and favours the higher rating", () => {
    expect(expectedScore(1000, 1000)).toBe(0.5);
    expect(expectedScore(1400, 1000)).toBeCloseTo(10 / 11, 10);
  });

  it("moves equal players by K/2 for a win in a duel, zero-sum", () => {
    expect(
      eloChanges([
        { id: "a", rating: 1000, score: 5 },
        { id: "b", rating: 1000, score: 2 },
      ]),
    ).toEqual({ a: ELO_K / 2, b: -ELO_K / 2 });
  });

  it("rewards an upset more than an expected win, and a draw moves the favourite down", () => {
    const upset = eloChanges([
      { id: "low", rating: 900, score: 3 },
      { id: "high", rating: 1300, score: 1 },
    ]);
    expect(upset.low).toBeGreaterThan(ELO_K / 2);
    const draw = eloChanges([
      { id: "low", rating: 900, score: 2 },
      { id: "high", rating: 1300, score: 2 },
    ]);
    expect(draw.high).toBeLessThan(0);
    expect(draw.low).toBe(-draw.high!);
  });

  it("scales a free-for-all so that winning it is worth about one game", () => {
    const ffa = eloChanges(
      Array.from({ length: 8 }, (_, i) => ({ id: `p${i}`, rating: 1000, score: 8 - i })),
    );
    expect(ffa.p0).toBe(ELO_K / 2);
    expect(ffa.p7).toBe(-ELO_K / 2);
    expect(eloChanges([{ id: "alone", rating: 1000, score: 3 }])).toEqual({ alone: 0 });
  });
});
