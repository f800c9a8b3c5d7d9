import { describe, expect, it } from "vitest";
import { averageRate, linePath, mergeSecond, niceMax, pointsFor, rulesIn } from "./chart.js";

const s = (t: number, rules: Record<string, [number, number]>) => ({
  t,
  rules: Object.fromEntries(
    Object.entries(rules).map(([id, [allowed, limited]]) => [id, { allowed, limited }]),
  ),
});

describe("the live chart's series", () => {
  it("merges seconds in order, replaces a repeated one and keeps the window", () => {
    let series = mergeSecond([], s(3000, { a: [1, 0] }), 3);
    series = mergeSecond(series, s(1000, { a: [2, 0] }), 3);
    series = mergeSecond(series, s(2000, { a: [3, 0] }), 3);
    series = mergeSecond(series, s(3000, { a: [4, 1] }), 3);
    expect(series.map((x) => [x.t, x.rules.a!.allowed])).toEqual([
      [1000, 2],
      [2000, 3],
      [3000, 4],
    ]);
    series = mergeSecond(series, s(4000, {}), 3);
    expect(series.map((x) => x.t)).toEqual([2000, 3000, 4000]);
  });

  it("reads one endpoint or all of them, with zeros for missing seconds", () => {
    const series = [s(1000, { quotes: [5, 2], weather: [1, 4] }), s(3000, { quotes: [1, 0] })];
    expect(pointsFor(series, null, 3000, 3)).toEqual([
      { t: 1000, allowed: 6, limited: 6 },
      { t: 2000, allowed: 0, limited: 0 },
      { t: 3000, allowed: 1, limited: 0 },
    ]);
    expect(pointsFor(series, "weather", 3000, 3).map((p) => p.limited)).toEqual([4, 0, 0]);
    expect(rulesIn(series)).toEqual(["quotes", "weather"]);
  });

  it("averages the last seconds", () => {
    const points = [0, 2, 4].map((v, i) => ({ t: i * 1000, allowed: v, limited: v * 2 }));
    expect(averageRate(points, 2)).toEqual({ t: 2000, allowed: 3, limited: 6 });
  });

  it("scales to round maxima and draws inside the box", () => {
    expect([0, 3, 7, 12, 20, 21, 480, 501].map(niceMax)).toEqual([5, 5, 10, 20, 20, 50, 500, 1000]);
    expect(linePath([0, 10, 20], 20, 100, 50)).toBe("M0.0,50.0L50.0,25.0L100.0,0.0");
    expect(linePath([40], 20, 100, 50)).toBe("M0.0,0.0");
  });
});
