/**
 * The live chart's arithmetic, apart from React so it can be tested: the seconds the
 * `tenantTraffic` actor broadcasts are merged into a window of the last `WINDOW_SECONDS`, read
 * for one endpoint (rule) or all, and scaled to a round maximum.
 */
import type { TrafficSecond } from "../../actors/index.js";

export const WINDOW_SECONDS = 120;

export interface Point {
  t: number;
  allowed: number;
  limited: number;
}

/** Adds (or replaces) one second, keeping the window sorted and at most `keep` long. */
export function mergeSecond(
  series: readonly TrafficSecond[],
  second: TrafficSecond,
  keep = WINDOW_SECONDS,
): TrafficSecond[] {
  const next = series.filter((s) => s.t !== second.t);
  next.push(second);
  next.sort((a, b) => a.t - b.t);
  return next.length > keep ? next.slice(next.length - keep) : next;
}

/**
 * One point per second for the `seconds` seconds ending at `end` (the start of the newest
 * second), zero where the series has none; `rule` null adds every endpoint up.
 */
export function pointsFor(
  series: readonly TrafficSecond[],
  rule: string | null,
  end: number,
  seconds = WINDOW_SECONDS,
): Point[] {
  const byT = new Map(series.map((s) => [s.t, s]));
  const points: Point[] = [];
  for (let t = end - (seconds - 1) * 1000; t <= end; t += 1000) {
    const s = byT.get(t);
    let allowed = 0;
    let limited = 0;
    if (s) {
      for (const [id, c] of Object.entries(s.rules)) {
        if (rule !== null && id !== rule) continue;
        allowed += c.allowed;
        limited += c.limited;
      }
    }
    points.push({ t, allowed, limited });
  }
  return points;
}

/** The endpoints (rules) that appear in the series, sorted. */
export function rulesIn(series: readonly TrafficSecond[]): string[] {
  const ids = new Set<string>();
  for (const s of series) for (const id of Object.keys(s.rules)) ids.add(id);
  return [...ids].sort();
}

/** Requests per second over the last `seconds` points. */
export function averageRate(points: readonly Point[], seconds = 5): Point {
  const tail = points.slice(-seconds);
  const n = Math.max(1, tail.length);
  return {
    t: tail.at(-1)?.t ?? 0,
    allowed: tail.reduce((a, p) => a + p.allowed, 0) / n,
    limited: tail.reduce((a, p) => a + p.limited, 0) / n,
  };
}

/** A round number at or above `value` (1, 2, 5 × 10^n), at least 5, for the y axis. */
export function niceMax(value: number): number {
  if (!(value > 5)) return 5;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

/** An SVG path through `values` over a `width` × `height` box (y grows downwards). */
export function linePath(values: readonly number[], max: number, width: number, height: number) {
  if (values.length === 0) return "";
  const dx = values.length > 1 ? width / (values.length - 1) : 0;
  return values
    .map((v, i) => {
      const x = (i * dx).toFixed(1);
      const y = (height - (Math.min(v, max) / max) * height).toFixed(1);
      return `${i === 0 ? "M" : "L"}${x},${y}`;
    })
    .join("");
}

/** The same path closed down to the x axis, for a filled area. */
export function areaPath(values: readonly number[], max: number, width: number, height: number) {
  if (values.length === 0) return "";
  return `${linePath(values, max, width, height)}L${width},${height}L0,${height}Z`;
}
