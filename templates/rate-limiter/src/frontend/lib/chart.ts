/**
 * The live chart's arithmetic, apart from React so it can be tested: the seconds the
 * `tenantTraffic` actor broadcasts are merged into a window of the last `WINDOW_SECONDS`, read
 * for one endpoint (rule) or all, and scaled to a round maximum with round, evenly spaced ticks.
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

/** The y axis: a round maximum at or above the highest value, and its evenly spaced ticks. */
export interface AxisScale {
  max: number;
  /** From 0 to `max`, every `max / (ticks.length - 1)`: round numbers, 3 to 5 of them. */
  ticks: number[];
}

/** The least maximum of an axis (an empty chart, or a few requests a second): ticks 0 to 4. */
const LEAST_AXIS_MAX = 4;
/** At most this many intervals between ticks. */
const MAX_INTERVALS = 4;

/**
 * The axis for values up to `value`: a tick step of 1, 2 or 5 × 10^n (the smallest that covers
 * `value` in at most 4 steps), and the maximum the next multiple of it, so every tick is a round
 * number and they are evenly spaced (0 10 20 30, never 0 3 5).
 */
export function axisScale(value: number): AxisScale {
  // NaN or Infinity (no points) would never be covered: the least axis instead.
  const top = Number.isFinite(value) ? Math.max(value, LEAST_AXIS_MAX) : LEAST_AXIS_MAX;
  let magnitude = 10 ** Math.floor(Math.log10(top / MAX_INTERVALS));
  for (;;) {
    for (const m of [1, 2, 5]) {
      const step = m * magnitude;
      if (step * MAX_INTERVALS >= top) {
        const intervals = Math.ceil(top / step);
        return {
          max: step * intervals,
          ticks: Array.from({ length: intervals + 1 }, (_, i) => i * step),
        };
      }
    }
    magnitude *= 10;
  }
}

/** Whether any point has a request, allowed or limited: an empty chart draws no series. */
export function hasTraffic(points: readonly Point[]): boolean {
  return points.some((p) => p.allowed > 0 || p.limited > 0);
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
