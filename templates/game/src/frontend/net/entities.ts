/**
 * The client's entity table: what the player knows of the world, kept from the snapshots'
 * `enter` / `update` / `leave` (and `full`, which starts over), plus a short history of each
 * entity's positions for interpolation.
 *
 * A delta lists only what changed: an entity missing from a snapshot stayed where it was. So
 * when an entity that stood still moves again, the table first records where it stood on the
 * tick before, or interpolation would slide it from its old spot over several ticks.
 *
 * Bullets are sent once, with their velocity, and then only their leaving: they have no history
 * and are drawn at `positionAt(view, renderTick)`, the same moment in the past as the
 * interpolated players. So one is not drawn before its first tick, and a bullet that left (hit
 * something, or flew out of view) stays drawn until the render tick reaches the last snapshot
 * that still had it: it disappears where it was last seen, not a hundred milliseconds early.
 *
 * The player's own bullets are the exception (`markOwn`): the own player is drawn where the
 * prediction has it, ahead of the server, so a bullet drawn in the past would come out behind it.
 * An own bullet is drawn at the present tick (no interpolation delay), moved by how far the drawn
 * player was from the server's when it fired: it leaves the muzzle the player sees.
 *
 * @example
 * const table = new EntityTable();
 * table.apply(snapshotFromWire(payload, table.known), performance.now());
 * for (const e of table.poses(performance.now())) draw(e.view, e.pose);
 */
import { applyDelta, type EntityView, positionAt } from "../../interest/interest.js";
import { BULLET_RADIUS, PLAYER_RADIUS } from "../../sim/constants.js";
import { type Pose, type Sample, sampleAt, TickClock } from "./interpolation.js";
import type { Snapshot } from "./wire.js";

/** Samples kept per entity: a little more than a second of movement. */
export const HISTORY_TICKS = 24;

export interface EntityPose {
  view: EntityView;
  pose: Pose;
}

function poseOf(v: EntityView): Pose {
  return { x: v.x, y: v.y, a: v.k === "p" ? v.a : 0 };
}

export class EntityTable {
  readonly known = new Map<string, EntityView>();
  readonly clock = new TickClock();
  private readonly history = new Map<string, Sample[]>();
  /** Bullets that left, drawn until the render tick passes `until` (the last tick they were in). */
  private readonly leaving = new Map<string, { view: EntityView; until: number }>();
  /** The tick of the newest snapshot applied (-1 before any). */
  tick = -1;
  /** The own player's bullets: drawn at the present tick, shifted by this offset. */
  private readonly own = new Map<string, { dx: number; dy: number }>();

  /**
   * Draws bullet `id` as one the player fired: at the present tick rather than in the past, and
   * shifted by (dx, dy), the distance from where the server had the shooter to where it is drawn.
   */
  markOwn(id: string, dx: number, dy: number): void {
    this.own.set(id, { dx, dy });
  }

  /** Applies one snapshot received at local time `now` (ms). */
  apply(s: Snapshot, now: number): void {
    const { delta } = s;
    if (delta.full) {
      this.history.clear();
      this.leaving.clear();
      this.own.clear();
      this.clock.reset();
    } else if (s.t <= this.tick) {
      // Older than what we have (cannot happen on one socket; harmless if it does).
      return;
    }
    for (const id of delta.leave) {
      this.history.delete(id);
      const view = this.known.get(id);
      if (view?.k === "b") this.leaving.set(id, { view, until: this.tick });
    }
    for (const v of delta.enter) {
      this.leaving.delete(v.id); // back in view
      if (v.k !== "b") this.history.set(v.id, [{ t: s.t, ...poseOf(v) }]);
    }
    for (const v of delta.update) {
      if (v.k === "b") continue; // moves by itself (positionAt)
      const samples = this.history.get(v.id) ?? [];
      const last = samples[samples.length - 1];
      // It stood still since `last` (unchanged entities are not sent): pin it there until t-1.
      if (last && last.t < s.t - 1) samples.push({ ...last, t: s.t - 1 });
      samples.push({ t: s.t, ...poseOf(v) });
      if (samples.length > HISTORY_TICKS) samples.splice(0, samples.length - HISTORY_TICKS);
      this.history.set(v.id, samples);
    }
    applyDelta(this.known, delta);
    this.tick = s.t;
    this.clock.observe(s.t, now);
  }

  /** Forget everything (leaving a match). */
  clear(): void {
    this.known.clear();
    this.history.clear();
    this.leaving.clear();
    this.own.clear();
    this.clock.reset();
    this.tick = -1;
  }

  /**
   * Where entity `id` is drawn at local time `now`: interpolated in the past (bullets: where
   * they fly at that moment). Undefined for an entity not drawn now: unknown, a bullet not fired
   * yet at the render tick, or one that has left by then.
   */
  poseAt(id: string, now: number): Pose | undefined {
    const leaving = this.leaving.get(id);
    const view = this.known.get(id) ?? leaving?.view;
    if (!view) return undefined;
    const own = this.own.get(id);
    const tick = this.clock.renderTick(now, own ? 0 : undefined);
    if (view.k === "b") {
      const at = tick ?? this.tick;
      if (at < view.t || (leaving && at > leaving.until)) return undefined;
      const p = positionAt(view, at);
      return { x: p.x + (own?.dx ?? 0), y: p.y + (own?.dy ?? 0), a: Math.atan2(view.vy, view.vx) };
    }
    const samples = this.history.get(id);
    if (tick === undefined || !samples) return poseOf(view);
    return sampleAt(samples, tick) ?? poseOf(view);
  }

  /** Every entity drawn at local time `now`, with the pose it is drawn at. */
  poses(now: number): EntityPose[] {
    const out: EntityPose[] = [];
    const tick = this.clock.renderTick(now) ?? this.tick;
    for (const [id, { until }] of this.leaving) {
      if (tick > until) {
        this.leaving.delete(id);
        this.own.delete(id);
      }
    }
    for (const view of [...this.known.values(), ...[...this.leaving.values()].map((l) => l.view)]) {
      const pose = this.poseAt(view.id, now);
      if (pose) out.push({ view, pose });
    }
    return out;
  }
}

/** Where a bullet leaves its shooter: the step puts it just outside the player's circle. */
const MUZZLE = PLAYER_RADIUS + BULLET_RADIUS + 1;

/**
 * Whether bullet `b`, new in the snapshot of tick `t`, was fired by `me` in that tick: it starts
 * at the muzzle distance from the player (positions are in tenths: a unit of slack), moving
 * straight away from it. Nobody else's shot starts there while flying away from this player.
 */
export function isOwnBullet(
  b: Extract<EntityView, { k: "b" }>,
  me: { x: number; y: number },
  t: number,
): boolean {
  if (b.t !== t - 1) return false;
  const dx = b.x - me.x;
  const dy = b.y - me.y;
  const d = Math.hypot(dx, dy);
  const speed = Math.hypot(b.vx, b.vy);
  if (Math.abs(d - MUZZLE) > 1 || speed === 0) return false;
  return (dx * b.vx + dy * b.vy) / (d * speed) > 0.99;
}
