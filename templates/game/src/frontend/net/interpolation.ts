/**
 * Interpolation of the entities the server moves (everyone but the player's own, which is
 * predicted): they are drawn `INTERPOLATION_DELAY_MS` in the past, between the two snapshots
 * around that moment, so that they move smoothly at any frame rate although positions arrive 20
 * times a second, and a late snapshot does not make them stutter.
 *
 * `TickClock` maps server ticks to this page's clock from the snapshots' arrival times: a
 * snapshot that arrives earlier than expected moves the mapping at once (the network was slow
 * before), a later one only a little (it was delayed, the server was not slower).
 */
import { TICK_MS } from "../../sim/constants.js";

/** How far in the past other entities are drawn: two ticks, so one lost or late snapshot is covered. */
export const INTERPOLATION_DELAY_MS = 100;
/** How much of a late arrival the clock mapping follows per snapshot. */
export const CLOCK_DRIFT = 0.05;

export class TickClock {
  /** Local time (ms) of tick 0; undefined before the first snapshot. */
  private origin: number | undefined;

  /** A snapshot of tick `t` arrived at local time `now` (ms). */
  observe(t: number, now: number): void {
    const origin = now - t * TICK_MS;
    if (this.origin === undefined || origin < this.origin) this.origin = origin;
    else this.origin += (origin - this.origin) * CLOCK_DRIFT;
  }

  /** Forget the mapping (a full snapshot after a reconnect or a server restart). */
  reset(): void {
    this.origin = undefined;
  }

  /** The (fractional) server tick to draw other entities at, or undefined before any snapshot. */
  renderTick(now: number, delayMs = INTERPOLATION_DELAY_MS): number | undefined {
    if (this.origin === undefined) return undefined;
    return (now - this.origin - delayMs) / TICK_MS;
  }
}

export interface Pose {
  x: number;
  y: number;
  /** Aim angle (players), radians. */
  a: number;
}

export interface Sample extends Pose {
  t: number;
}

export function lerp(a: number, b: number, f: number): number {
  return a + (b - a) * f;
}

/** From angle a towards b the short way round. */
export function lerpAngle(a: number, b: number, f: number): number {
  let d = (b - a) % (2 * Math.PI);
  if (d > Math.PI) d -= 2 * Math.PI;
  if (d < -Math.PI) d += 2 * Math.PI;
  return a + d * f;
}

/**
 * The pose at `tick` from samples in tick order: between the two around it, the first before
 * the oldest, the newest after the newest (never guessed ahead).
 */
export function sampleAt(samples: readonly Sample[], tick: number): Pose | undefined {
  if (samples.length === 0) return undefined;
  const first = samples[0]!;
  if (tick <= first.t) return { x: first.x, y: first.y, a: first.a };
  for (let i = 1; i < samples.length; i++) {
    const b = samples[i]!;
    if (tick > b.t) continue;
    const a = samples[i - 1]!;
    const f = (tick - a.t) / (b.t - a.t);
    return { x: lerp(a.x, b.x, f), y: lerp(a.y, b.y, f), a: lerpAngle(a.a, b.a, f) };
  }
  const last = samples[samples.length - 1]!;
  return { x: last.x, y: last.y, a: last.a };
}
