/**
 * Client-side prediction of the player's own movement, with reconciliation against the server.
 *
 * Each input the client sends is applied at once with `movePlayer`, the very function the server
 * steps players with (`sim/step.ts`), and kept until the server acknowledges it. A snapshot says
 * where the server has the player after applying inputs up to `ack`: the prediction starts again
 * from there and re-applies the inputs not yet acknowledged, which gives where the player will be
 * once the server has them too.
 *
 * The server queues inputs and applies each exactly once, one per tick in `seq` order
 * (`InputQueue`), so inputs arriving bunched up or late change nothing here. What can still differ
 * (an input dropped from a full queue, being hit or killed) is not applied as a jump: the
 * difference becomes an offset that fades out over `CORRECTION_MS`; only an error larger than
 * `SNAP_DISTANCE` (a respawn, a long stall) is applied at once.
 *
 * Between inputs the drawn position moves from the previous predicted step to the current one
 * over one tick, so the player moves smoothly at any frame rate.
 *
 * @example
 * const me = new Predictor();
 * me.reset(spawn.x, spawn.y, performance.now());
 * me.applyInput({ seq, dx, dy }, performance.now());       // each tick, as the input is sent
 * me.reconcile(snapshot.ack, serverX, serverY, performance.now()); // each snapshot
 * const { x, y } = me.displayed(performance.now());         // each frame
 */
import { TICK_MS } from "../../sim/constants.js";
import { movePlayer } from "../../sim/step.js";

/** Errors larger than this (world units) are applied at once instead of smoothed. */
export const SNAP_DISTANCE = 96;
/** Time for a small correction to fade out (ms): the offset shrinks by e each this long. */
export const CORRECTION_MS = 120;
/** Unacknowledged inputs kept at most (a stalled connection must not grow this without bound). */
export const MAX_PENDING = 120;

export interface MoveInput {
  seq: number;
  dx: number;
  dy: number;
}

interface Point {
  x: number;
  y: number;
}

export class Predictor {
  /** Where the player is once the server has every sent input. */
  x = 0;
  y = 0;
  /** Inputs sent and applied here, not yet acknowledged by the server. */
  readonly pending: MoveInput[] = [];
  /** Drawn = predicted + offset; the offset fades out. */
  private offset: Point = { x: 0, y: 0 };
  private offsetAt = 0;
  /** The predicted position before the last step, and when that step was taken (for drawing). */
  private from: Point = { x: 0, y: 0 };
  private steppedAt = Number.NEGATIVE_INFINITY;
  /** Inputs predicted and corrections made (smoothed, snapped) so far, for the page and tests. */
  readonly counts = { applied: 0, smoothed: 0, snapped: 0 };

  /** Start over at the server's position (first snapshot, respawn, death): nothing to smooth. */
  reset(x: number, y: number, now: number): void {
    this.x = x;
    this.y = y;
    this.from = { x, y };
    this.steppedAt = Number.NEGATIVE_INFINITY;
    this.offset = { x: 0, y: 0 };
    this.offsetAt = now;
    this.pending.length = 0;
  }

  /** Applies an input now sent to the server. */
  applyInput(input: MoveInput, now: number): void {
    this.from = this.displayedBase(now);
    const moved = movePlayer(this.x, this.y, input.dx, input.dy);
    this.x = moved.x;
    this.y = moved.y;
    this.steppedAt = now;
    this.pending.push(input);
    this.counts.applied += 1;
    if (this.pending.length > MAX_PENDING)
      this.pending.splice(0, this.pending.length - MAX_PENDING);
  }

  /**
   * The server has the player at (serverX, serverY) after the inputs up to `ack`. Returns the
   * size of the error found (0 when the prediction was right).
   */
  reconcile(ack: number, serverX: number, serverY: number, now: number): number {
    let drop = 0;
    while (drop < this.pending.length && this.pending[drop]!.seq <= ack) drop++;
    this.pending.splice(0, drop);
    let p: Point = { x: serverX, y: serverY };
    for (const input of this.pending) p = movePlayer(p.x, p.y, input.dx, input.dy);
    const ex = this.x - p.x;
    const ey = this.y - p.y;
    const error = Math.hypot(ex, ey);
    // Positions on the wire are rounded to a tenth of a unit: below that there is nothing to fix.
    if (error < 0.2) return 0;
    const offset = this.currentOffset(now);
    if (error > SNAP_DISTANCE) {
      this.offset = { x: 0, y: 0 };
      this.from = { x: p.x, y: p.y };
      this.steppedAt = Number.NEGATIVE_INFINITY;
      this.counts.snapped += 1;
    } else {
      // What is drawn stays put; the difference fades out from here.
      this.offset = { x: offset.x + ex, y: offset.y + ey };
      this.from = { x: this.from.x - ex, y: this.from.y - ey };
      this.counts.smoothed += 1;
    }
    this.offsetAt = now;
    this.x = p.x;
    this.y = p.y;
    return error;
  }

  /** Where the player is drawn at `now`. */
  displayed(now: number): Point {
    const base = this.displayedBase(now);
    const offset = this.currentOffset(now);
    return { x: base.x + offset.x, y: base.y + offset.y };
  }

  /** The predicted position, moving from the previous step to the current one over a tick. */
  private displayedBase(now: number): Point {
    const f = Math.min(1, Math.max(0, (now - this.steppedAt) / TICK_MS));
    return {
      x: this.from.x + (this.x - this.from.x) * f,
      y: this.from.y + (this.y - this.from.y) * f,
    };
  }

  private currentOffset(now: number): Point {
    const k = Math.exp(-Math.max(0, now - this.offsetAt) / CORRECTION_MS);
    return { x: this.offset.x * k, y: this.offset.y * k };
  }
}
