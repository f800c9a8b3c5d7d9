import { describe, expect, it } from "vitest";
import {
  FLOOD_MAX_DROPS,
  forWire,
  INPUT_BURST,
  INPUT_DRAIN_AFTER_TICKS,
  INPUT_QUEUE_MAX,
  INPUT_RATE_PER_SECOND,
  InputGuard,
  InputQueue,
  MIN_FIRE_INTERVAL_MS,
  type PlayerInput,
  parseInput,
} from "./input.js";

/** A guard on a clock the test moves. */
function guardAt(start = 1_000_000) {
  const clock = { t: start };
  const guard = new InputGuard({ now: () => clock.t });
  return { guard, clock };
}

const input = (seq: number, extra: Record<string, unknown> = {}) => ({
  seq,
  dx: 0,
  dy: 0,
  aimAngle: 0,
  fire: false,
  ...extra,
});

describe("parseInput: types and ranges", () => {
  it("accepts a well-formed input", () => {
    expect(parseInput(input(3, { dx: -1, dy: 0.5, aimAngle: Math.PI, fire: true }))).toEqual({
      seq: 3,
      dx: -1,
      dy: 0.5,
      aimAngle: Math.PI,
      fire: true,
    });
  });

  it.each([
    ["not an object", 42],
    ["null", null],
    ["an array", [1, 0, 0, 0, false]],
    ["seq missing", { dx: 0, dy: 0, aimAngle: 0, fire: false }],
    ["seq negative", input(-1)],
    ["seq fractional", input(1.5)],
    ["seq beyond safe integers", input(2 ** 53)],
    ["seq a string", input("1" as unknown as number)],
    ["dx beyond 1", input(1, { dx: 1.01 })],
    ["dy below -1", input(1, { dy: -2 })],
    ["dx NaN", input(1, { dx: Number.NaN })],
    ["dy a string", input(1, { dy: "1" })],
    ["aimAngle beyond pi", input(1, { aimAngle: 4 })],
    ["aimAngle infinite", input(1, { aimAngle: Number.POSITIVE_INFINITY })],
    ["fire not a boolean", input(1, { fire: 1 })],
  ])("drops %s", (_what, raw) => {
    expect(parseInput(raw)).toBeUndefined();
  });
});

describe("InputGuard", () => {
  it("counts a malformed input and keeps going", () => {
    const { guard } = guardAt();
    expect(guard.check({ seq: 1, dx: 9 })).toEqual({
      ok: false,
      reason: "malformed",
      flood: false,
    });
    expect(guard.check(input(1)).ok).toBe(true);
    expect(guard.counters).toMatchObject({ malformed: 1, accepted: 1 });
  });

  it("scales a direction longer than 1 down to length 1", () => {
    const { guard } = guardAt();
    const r = guard.check(input(1, { dx: 1, dy: 1 }));
    if (!r.ok) throw new Error("dropped");
    expect(Math.hypot(r.input.dx, r.input.dy)).toBeCloseTo(1, 12);
    expect(r.input.dx).toBeCloseTo(Math.SQRT1_2, 12);
    const short = guard.check(input(2, { dx: 0.3, dy: 0 }));
    expect(short.ok && short.input.dx).toBe(0.3);
  });

  it("wants seq strictly increasing: repeats and older ones are dropped", () => {
    const { guard, clock } = guardAt();
    expect(guard.check(input(5)).ok).toBe(true);
    clock.t += 100;
    expect(guard.check(input(5))).toEqual({ ok: false, reason: "outOfOrder", flood: false });
    expect(guard.check(input(4))).toMatchObject({ reason: "outOfOrder" });
    expect(guard.check(input(9)).ok).toBe(true); // gaps are fine (lost inputs)
    expect(guard.lastSeq).toBe(9);
    expect(guard.counters.outOfOrder).toBe(2);
  });

  it("lets a burst through, then the sustained rate, and drops the excess", () => {
    const { guard, clock } = guardAt();
    let seq = 0;
    const results = Array.from({ length: INPUT_BURST + 5 }, () => guard.check(input(++seq)));
    expect(results.filter((r) => r.ok)).toHaveLength(INPUT_BURST);
    expect(results.at(-1)).toEqual({ ok: false, reason: "rateLimited", flood: false });
    expect(guard.counters.rateLimited).toBe(5);
    // One second later the bucket is full again (it holds at most a burst).
    clock.t += 1000;
    const later = Array.from({ length: INPUT_RATE_PER_SECOND }, () => guard.check(input(++seq)));
    expect(later.filter((r) => r.ok)).toHaveLength(INPUT_BURST);
    // At exactly the sustained rate nothing is dropped.
    const fresh = guardAt();
    for (let i = 1; i <= 3 * INPUT_RATE_PER_SECOND; i++) {
      fresh.clock.t += 1000 / INPUT_RATE_PER_SECOND;
      expect(fresh.guard.check(input(i)).ok).toBe(true);
    }
  });

  it("rate-limits malformed messages too", () => {
    const { guard } = guardAt();
    for (let i = 0; i < INPUT_BURST; i++) guard.check("garbage");
    expect(guard.check(input(1))).toMatchObject({ ok: false, reason: "rateLimited" });
  });

  it("calls it a flood past FLOOD_MAX_DROPS drops within the window", () => {
    const { guard } = guardAt();
    let seq = 0;
    for (let i = 0; i < INPUT_BURST; i++) guard.check(input(++seq));
    for (let i = 0; i < FLOOD_MAX_DROPS; i++) {
      expect(guard.check(input(++seq))).toEqual({ ok: false, reason: "rateLimited", flood: false });
    }
    expect(guard.check(input(++seq))).toEqual({ ok: false, reason: "rateLimited", flood: true });
  });

  it("does not call a slow trickle of drops over many windows a flood", () => {
    const { guard, clock } = guardAt();
    let seq = 0;
    for (let second = 0; second < 10; second++) {
      // 40 inputs in the first 100 ms of each second: the burst passes, the rest is dropped.
      for (let i = 0; i < 40; i++) {
        const r = guard.check(input(++seq));
        expect(r.ok || !r.flood).toBe(true);
      }
      clock.t += 1000;
    }
    expect(guard.counters.rateLimited).toBeGreaterThan(0);
  });

  it("keeps fire at most once per MIN_FIRE_INTERVAL_MS and clears it in between", () => {
    const { guard, clock } = guardAt();
    const fire = (seq: number) => guard.check(input(seq, { fire: true }));
    expect(fire(1)).toMatchObject({ ok: true, input: { fire: true } });
    clock.t += MIN_FIRE_INTERVAL_MS - 1;
    expect(fire(2)).toMatchObject({ ok: true, input: { fire: false } });
    clock.t += 1;
    expect(fire(3)).toMatchObject({ ok: true, input: { fire: true } });
    expect(guard.counters).toMatchObject({ fireLimited: 1, accepted: 3 });
  });
});

describe("InputQueue: one input per tick, in seq order", () => {
  const move = (seq: number, dx: number, dy: number, extra: Partial<PlayerInput> = {}) => ({
    seq,
    dx,
    dy,
    aimAngle: 0.5,
    fire: false,
    ...extra,
  });

  it("applies two inputs that arrived in one tick on two ticks, in order, and acks each", () => {
    const guard = new InputGuard();
    const queue = new InputQueue(guard.counters);
    queue.push(move(1, 1, 0));
    queue.push(move(2, 0, 1, { fire: true }));
    expect(queue.take()).toEqual({ seq: 1, dx: 1, dy: 0, aim: 0.5, fire: false });
    expect(queue.ack).toBe(1);
    expect(queue.take()).toEqual({ seq: 2, dx: 0, dy: 1, aim: 0.5, fire: true });
    expect(queue.ack).toBe(2);
  });

  it("stands still on a tick with nothing queued, keeping the aim, without repeating a shot", () => {
    const queue = new InputQueue(new InputGuard().counters);
    expect(queue.take()).toEqual({ seq: -1, dx: 0, dy: 0, aim: 0, fire: false });
    queue.push(move(7, 1, 0, { aimAngle: -1, fire: true }));
    queue.take();
    expect(queue.take()).toEqual({ seq: 7, dx: 0, dy: 0, aim: -1, fire: false });
    expect(queue.ack).toBe(7);
  });

  it("is bounded: past INPUT_QUEUE_MAX the oldest is dropped and counted, its shot kept", () => {
    const guard = new InputGuard();
    const queue = new InputQueue(guard.counters);
    queue.push(move(1, 1, 0, { fire: true }));
    for (let seq = 2; seq <= INPUT_QUEUE_MAX + 2; seq++) queue.push(move(seq, 1, 0));
    expect(queue.length).toBe(INPUT_QUEUE_MAX);
    expect(guard.counters.overflow).toBe(2);
    // Sending more never gives more than one input per tick: the speed cap.
    const taken = Array.from({ length: INPUT_QUEUE_MAX + 2 }, () => queue.take());
    expect(taken.map((t) => t.seq)).toEqual([3, 4, 5, 6, 6, 6]);
    expect(taken.map((t) => t.dx)).toEqual([1, 1, 1, 1, 0, 0]);
    expect(taken[0]!.fire).toBe(true);
  });

  it("drains a backlog that stays, one input per INPUT_DRAIN_AFTER_TICKS, down to one waiting", () => {
    const guard = new InputGuard();
    const queue = new InputQueue(guard.counters);
    let seq = 0;
    // A stall left three waiting; then the client sends one per tick, as the server takes one.
    for (let i = 0; i < INPUT_QUEUE_MAX - 1; i++) queue.push(move(++seq, 1, 0));
    const waiting: number[] = [];
    for (let tick = 0; tick < 4 * INPUT_DRAIN_AFTER_TICKS; tick++) {
      queue.push(move(++seq, 1, 0));
      queue.take();
      waiting.push(queue.length);
    }
    expect(waiting[INPUT_DRAIN_AFTER_TICKS - 2]).toBe(INPUT_QUEUE_MAX - 1);
    expect(waiting[INPUT_DRAIN_AFTER_TICKS - 1]).toBe(INPUT_QUEUE_MAX - 2);
    expect(waiting.at(-1)).toBe(1);
    expect(guard.counters.overflow).toBe(INPUT_QUEUE_MAX - 2);
    // One waiting (the cushion for jittery delivery) is never drained.
    expect(waiting.slice(-INPUT_DRAIN_AFTER_TICKS)).toEqual(Array(INPUT_DRAIN_AFTER_TICKS).fill(1));
  });
});

describe("forWire: the input as a client sends it", () => {
  it("cuts dx, dy and aimAngle to 4 decimals toward zero, so every rule still holds", () => {
    expect(
      forWire({ seq: 7, dx: 0.123456789, dy: -0.987654321, aimAngle: -1.23456789, fire: true }),
    ).toEqual({ seq: 7, dx: 0.1234, dy: -0.9876, aimAngle: -1.2345, fire: true });
    expect(Object.is(forWire({ seq: 1, dx: -1e-9, dy: 0, aimAngle: 0, fire: false }).dx, 0)).toBe(
      true,
    );
    for (let i = 0; i <= 3600; i++) {
      const a = -Math.PI + (i / 3600) * 2 * Math.PI;
      const sent = forWire({ seq: i, dx: Math.cos(a), dy: Math.sin(a), aimAngle: a, fire: false });
      // Never longer than it was (so never past 1), never outside [-π, π], at most 0.0001 off.
      expect(Math.hypot(sent.dx, sent.dy)).toBeLessThanOrEqual(1);
      expect(Math.abs(sent.aimAngle)).toBeLessThanOrEqual(Math.PI);
      expect(Math.abs(sent.aimAngle - a)).toBeLessThan(1e-4);
      expect(Math.abs(sent.dx - Math.cos(a))).toBeLessThan(1e-4);
      // What the server reads back is exactly what was sent, and passes its checks.
      const back = parseInput(JSON.parse(JSON.stringify(sent)));
      expect(back).toEqual(sent);
      expect(JSON.stringify(sent.dx).length).toBeLessThanOrEqual(7);
    }
  });
});
