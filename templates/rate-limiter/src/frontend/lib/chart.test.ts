import { describe, expect, it } from "vitest";
import {
  averageRate,
  axisScale,
  hasTraffic,
  linePath,
  mergeSecond,
  pointsFor,
  rulesIn,
} from "./chart.js";

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

  it("scales to a round maximum with round, evenly spaced ticks", () => {
    expect(axisScale(0).ticks).toEqual([0, 1, 2, 3, 4]);
    expect(axisScale(3).ticks).toEqual([0, 1, 2, 3, 4]);
    expect(axisScale(5).ticks).toEqual([0, 2, 4, 6]);
    expect(axisScale(7).ticks).toEqual([0, 2, 4, 6, 8]);
    expect(axisScale(12).ticks).toEqual([0, 5, 10, 15]);
    expect(axisScale(20).ticks).toEqual([0, 5, 10, 15, 20]);
    expect(axisScale(21).ticks).toEqual([0, 10, 20, 30]);
    expect(axisScale(480).ticks).toEqual([0, 200, 400, 600]);
    expect(axisScale(501).ticks).toEqual([0, 200, 400, 600]);
    expect(axisScale(0.4).max).toBe(4);
    expect(axisScale(Number.NaN).max).toBe(4);
    expect(axisScale(-Infinity).max).toBe(4);
    for (let value = 0; value <= 100_000; value += value < 100 ? 1 : 997) {
      const { max, ticks } = axisScale(value);
      expect(max).toBeGreaterThanOrEqual(value);
      expect(ticks[0]).toBe(0);
      expect(ticks.at(-1)).toBe(max);
      expect(ticks.length).toBeGreaterThanOrEqual(3);
      expect(ticks.length).toBeLessThanOrEqual(5);
      const step = ticks[1]!;
      // A step of 1, 2 or 5 times a power of ten, the same between every two ticks.
      expect(step / 10 ** Math.floor(Math.log10(step))).toBeOneOf([1, 2, 5]);
      expect(ticks.every((t, i) => t === i * step)).toBe(true);
    }
  });

  it("says whether there is any traffic to draw", () => {
    const quiet = [0, 1].map((t) => ({ t, allowed: 0, limited: 0 }));
    expect(hasTraffic(quiet)).toBe(false);
    expect(hasTraffic([...quiet, { t: 2, allowed: 0, limited: 1 }])).toBe(true);
  });

  it("draws inside the box", () => {
    expect(linePath([0, 10, 20], 20, 100, 50)).toBe("M0.0,50.0L50.0,25.0L100.0,0.0");
    expect(linePath([40], 20, 100, 50)).toBe("M0.0,0.0");
  });
});
