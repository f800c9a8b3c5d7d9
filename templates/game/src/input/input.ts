/**
 * Checks every input a player's connection sends before the simulation sees it. Each connection
 * has its own `InputGuard`; an input passes these rules in order, and one that breaks a rule is
 * dropped and counted (never thrown: a bad input must not cost an error reply, nor reach the
 * loop):
 *
 * 1. **Rate**: a token bucket of `INPUT_BURST` inputs refilled at `INPUT_RATE_PER_SECOND`. Every
 *    message counts, well-formed or not. Past the bucket an input is dropped (`rateLimited`); more
 *    than `FLOOD_MAX_DROPS` such drops within `FLOOD_WINDOW_MS` is a flood: `check` says so and
 *    the match closes that connection (`input_flood`), the others are not affected.
 * 2. **Shape and ranges**: `{ seq, dx, dy, aimAngle, fire }` with `seq` a non-negative safe
 *    integer, `dx` and `dy` finite numbers in [-1, 1], `aimAngle` finite in [-π, π], `fire` a
 *    boolean; anything else is `malformed`.
 * 3. **Order**: `seq` strictly above the last accepted one (`outOfOrder`): a replayed or
 *    reordered input is dropped.
 * 4. **Direction**: a direction longer than 1 is scaled down to length 1 (not refused: a
 *    diagonal from a keyboard is (1, 1)). The speed cap itself is the simulation's: one step of
 *    movement per tick, whatever the number of inputs.
 * 5. **Fire rate**: `fire` is kept at most once per `MIN_FIRE_INTERVAL_MS`; in between it is
 *    cleared (`fireLimited`) and the input otherwise kept. The simulation's cooldown applies too.
 *
 * An input that passes goes into the player's `InputQueue`, which the loop empties one input per
 * tick, in `seq` order: every input is one tick of movement, applied exactly once, as the
 * client's prediction applies it. A tick with nothing queued moves the player nowhere (it does not
 * repeat the last input, which the client never predicted); inputs that arrive together wait
 * their turn. That is also the speed cap: sending more inputs only makes the queue longer, and
 * past `INPUT_QUEUE_MAX` the oldest is dropped (`overflow`); a backlog that stays for
 * `INPUT_DRAIN_AFTER_TICKS` is drained the same way, so it does not keep adding delay.
 *
 * @example
 * const guard = new InputGuard();
 * const r = guard.check(raw);
 * if (r.ok) pending = r.input; else if (r.flood) conn.disconnect("input_flood");
 */
import { FIRE_COOLDOWN_TICKS, TICK_MS } from "../sim/constants.js";

/** An input as the client sends it (one per client tick). */
export interface PlayerInput {
  /** Strictly increasing per connection; the server acknowledges the last one it applied. */
  seq: number;
  dx: number;
  dy: number;
  /** Radians, as `Math.atan2` gives them. */
  aimAngle: number;
  fire: boolean;
}

/** Sustained inputs per second a connection may send (the client sends one per tick: 20). */
export const INPUT_RATE_PER_SECOND = 30;
/** Inputs a connection may send at once after a pause (a stalled tab catching up). */
export const INPUT_BURST = 15;
/** Rate-limited drops within one window that make a flood. */
export const FLOOD_MAX_DROPS = 60;
export const FLOOD_WINDOW_MS = 1000;
/** Shots accepted at most this often (the simulation's cooldown, less half a tick of jitter). */
export const MIN_FIRE_INTERVAL_MS = FIRE_COOLDOWN_TICKS * TICK_MS - TICK_MS / 2;

/**
 * Inputs waiting for the loop, per player: four ticks (200 ms) of bunched-up delivery. A longer
 * queue would absorb a longer stall but keep its extra delay for as long as the client sends at
 * the tick rate.
 */
export const INPUT_QUEUE_MAX = 4;
/**
 * Ticks in a row with two or more inputs still waiting after the tick's one was taken, before
 * the oldest waiting one is dropped (`overflow`). A client sending at the tick rate keeps a
 * backlog it once built (a server stall, a burst) for good, and with it the extra delay: this
 * drains it, one input a second, down to the one-input cushion jittery delivery needs.
 */
export const INPUT_DRAIN_AFTER_TICKS = 20;

export type DropReason = "rateLimited" | "malformed" | "outOfOrder";

export interface InputCounters {
  accepted: number;
  rateLimited: number;
  malformed: number;
  outOfOrder: number;
  /** Inputs kept with their `fire` cleared. */
  fireLimited: number;
  /** Accepted inputs dropped unapplied because the player's queue was full (`InputQueue`). */
  overflow: number;
}

export type InputCheck =
  | { ok: true; input: PlayerInput }
  | { ok: false; reason: DropReason; flood: boolean };

export interface InputGuardOptions {
  now?: () => number;
  ratePerSecond?: number;
  burst?: number;
  floodMaxDrops?: number;
  floodWindowMs?: number;
}

export class InputGuard {
  readonly counters: InputCounters = {
    accepted: 0,
    rateLimited: 0,
    malformed: 0,
    outOfOrder: 0,
    fireLimited: 0,
    overflow: 0,
  };
  /** The last accepted `seq` (-1 before the first). */
  lastSeq = -1;
  private readonly now: () => number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly floodMaxDrops: number;
  private readonly floodWindowMs: number;
  private tokens: number;
  private refilledAt: number;
  private windowStart: number;
  private windowDrops = 0;
  private lastFireAt = Number.NEGATIVE_INFINITY;

  constructor(opts: InputGuardOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.rate = opts.ratePerSecond ?? INPUT_RATE_PER_SECOND;
    this.burst = opts.burst ?? INPUT_BURST;
    this.floodMaxDrops = opts.floodMaxDrops ?? FLOOD_MAX_DROPS;
    this.floodWindowMs = opts.floodWindowMs ?? FLOOD_WINDOW_MS;
    this.tokens = this.burst;
    this.refilledAt = this.now();
    this.windowStart = this.refilledAt;
  }

  check(raw: unknown): InputCheck {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.rate);
    this.refilledAt = now;
    if (this.tokens < 1) {
      this.counters.rateLimited += 1;
      if (now - this.windowStart >= this.floodWindowMs) {
        this.windowStart = now;
        this.windowDrops = 0;
      }
      this.windowDrops += 1;
      return { ok: false, reason: "rateLimited", flood: this.windowDrops > this.floodMaxDrops };
    }
    this.tokens -= 1;

    const input = parseInput(raw);
    if (!input) {
      this.counters.malformed += 1;
      return { ok: false, reason: "malformed", flood: false };
    }
    if (input.seq <= this.lastSeq) {
      this.counters.outOfOrder += 1;
      return { ok: false, reason: "outOfOrder", flood: false };
    }
    this.lastSeq = input.seq;
    const len = Math.hypot(input.dx, input.dy);
    if (len > 1) {
      input.dx /= len;
      input.dy /= len;
    }
    if (input.fire) {
      if (now - this.lastFireAt >= MIN_FIRE_INTERVAL_MS) this.lastFireAt = now;
      else {
        input.fire = false;
        this.counters.fireLimited += 1;
      }
    }
    this.counters.accepted += 1;
    return { ok: true, input };
  }
}

/** What the loop applies to a player in one tick (the simulation's `TickInput`). */
export interface QueuedInput {
  seq: number;
  dx: number;
  dy: number;
  aim: number;
  fire: boolean;
}

/**
 * One player's accepted inputs, waiting for the ticks that apply them: `take` gives the oldest,
 * once. `ack` is the `seq` of the last input taken (what the player's snapshots acknowledge).
 *
 * @example
 * const queue = new InputQueue(guard.counters);
 * if (r.ok) queue.push(r.input);        // on arrival
 * const input = queue.take();           // each tick: one input, or a standstill
 */
export class InputQueue {
  /** The `seq` of the last input taken (-1 before the first). */
  ack = -1;
  private readonly items: PlayerInput[] = [];
  /** The aim of the last input taken: a tick without input keeps it. */
  private aim = 0;
  /** Ticks in a row that ended with two or more inputs waiting. */
  private backlogTicks = 0;

  constructor(
    private readonly counters: InputCounters,
    private readonly max = INPUT_QUEUE_MAX,
  ) {}

  get length(): number {
    return this.items.length;
  }

  /** Queues an accepted input; when full, the oldest is dropped (its shot goes to the next). */
  push(input: PlayerInput): void {
    if (this.items.length >= this.max) this.dropOldest(input);
    this.items.push(input);
  }

  /** The input for this tick: the oldest queued, or standing still (aim kept, no shot). */
  take(): QueuedInput {
    const next = this.items.shift();
    if (!next) return { seq: this.ack, dx: 0, dy: 0, aim: this.aim, fire: false };
    this.ack = next.seq;
    this.aim = next.aimAngle;
    this.backlogTicks = this.items.length >= 2 ? this.backlogTicks + 1 : 0;
    if (this.backlogTicks >= INPUT_DRAIN_AFTER_TICKS) {
      this.backlogTicks = 0;
      this.dropOldest();
    }
    return { seq: next.seq, dx: next.dx, dy: next.dy, aim: next.aimAngle, fire: next.fire };
  }

  /** Drops the oldest waiting input, counted; its shot goes to the next one (or `then`). */
  private dropOldest(then?: PlayerInput): void {
    const dropped = this.items.shift();
    if (!dropped) return;
    this.counters.overflow += 1;
    const heir = this.items[0] ?? then;
    if (dropped.fire && heir) heir.fire = true;
  }
}

function inRange(v: unknown, lo: number, hi: number): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= lo && v <= hi;
}

/** Decimals of `dx`, `dy` and `aimAngle` in the inputs a client sends (`forWire`). */
export const INPUT_DECIMALS = 4;
const WIRE_SCALE = 10 ** INPUT_DECIMALS;

/**
 * An input as a client sends it: `dx`, `dy` and `aimAngle` cut to `INPUT_DECIMALS` decimals,
 * toward zero (so a direction of length at most 1, and an angle within [-π, π], stay so). The
 * simulation moves in tenths of a unit and aims in hundredths of a radian, so nothing a player
 * sees changes; what does is the frame: `0.7071` instead of `0.7071067811865476` three times,
 * and reading 17-digit numbers was the largest part of parsing an input frame on the server.
 * The client predicts with the same values it sends.
 */
export function forWire(input: PlayerInput): PlayerInput {
  return {
    seq: input.seq,
    dx: cut(input.dx),
    dy: cut(input.dy),
    aimAngle: cut(input.aimAngle),
    fire: input.fire,
  };
}

// `+ 0` turns -0 (a small negative cut to nothing) into 0, which JSON writes anyway.
const cut = (v: number) => Math.trunc(v * WIRE_SCALE) / WIRE_SCALE + 0;

/** The input if it has the right shape and ranges (a fresh object), else undefined. */
export function parseInput(raw: unknown): PlayerInput | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  const { seq, dx, dy, aimAngle, fire } = r;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  if (!inRange(dx, -1, 1) || !inRange(dy, -1, 1)) return undefined;
  if (!inRange(aimAngle, -Math.PI, Math.PI)) return undefined;
  if (typeof fire !== "boolean") return undefined;
  return { seq, dx, dy, aimAngle, fire };
}
