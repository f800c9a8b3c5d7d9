import { describe, expect, it } from "vitest";
import { InputGuard, InputQueue, type PlayerInput } from "../../input/input.js";
import { PLAYER_SPEED_PER_TICK, TICK_MS } from "../../sim/constants.js";
import { movePlayer } from "../../sim/step.js";
import { CORRECTION_MS, Predictor, SNAP_DISTANCE } from "./prediction.js";

/** The server's side of one player: applies inputs with the same movePlayer, acks the last. */
function server(x: number, y: number) {
  return {
    x,
    y,
    ack: -1,
    apply(input: { seq: number; dx: number; dy: number }) {
      const p = movePlayer(this.x, this.y, input.dx, input.dy);
      this.x = p.x;
      this.y = p.y;
      this.ack = input.seq;
    },
  };
}

describe("Predictor", () => {
  it("moves at once by the same step the server takes", () => {
    const me = new Predictor();
    me.reset(400, 400, 0);
    me.applyInput({ seq: 1, dx: 1, dy: 0 }, 0);
    expect(me.x).toBeCloseTo(400 + PLAYER_SPEED_PER_TICK);
    expect(me.y).toBe(400);
    expect(me.pending).toHaveLength(1);
  });

  it("reconciles without any correction when the server agrees, keeping unacknowledged inputs", () => {
    const me = new Predictor();
    const srv = server(400, 400);
    me.reset(400, 400, 0);
    const inputs = [1, 2, 3, 4, 5].map((seq) => ({ seq, dx: 1, dy: seq % 2 ? 0.5 : -0.5 }));
    inputs.forEach((i, n) => {
      me.applyInput(i, n * TICK_MS);
    });
    // The server has seen only the first three (two are still in flight).
    for (const i of inputs.slice(0, 3)) srv.apply(i);
    const error = me.reconcile(srv.ack, srv.x, srv.y, 5 * TICK_MS);
    expect(error).toBe(0);
    expect(me.pending.map((i) => i.seq)).toEqual([4, 5]);
    for (const i of inputs.slice(3)) srv.apply(i);
    expect(me.x).toBeCloseTo(srv.x);
    expect(me.y).toBeCloseTo(srv.y);
  });

  it("re-applies unacknowledged inputs from the server's position, through walls as the server would", () => {
    const me = new Predictor();
    // Just left of the centre wall (x 700..900, y 520..680): moving right runs into it.
    me.reset(660, 600, 0);
    for (let seq = 1; seq <= 6; seq++) me.applyInput({ seq, dx: 1, dy: 0 }, seq * TICK_MS);
    expect(me.x).toBeLessThanOrEqual(700 - 16 + 1e-9);
    // The server says the player was pushed back 20 units before input 2: the rest replays.
    const srv = server(640 - 20, 600);
    srv.apply({ seq: 1, dx: 1, dy: 0 });
    srv.apply({ seq: 2, dx: 1, dy: 0 });
    me.reconcile(2, srv.x, srv.y, 7 * TICK_MS);
    for (let seq = 3; seq <= 6; seq++) srv.apply({ seq, dx: 1, dy: 0 });
    expect(me.x).toBeCloseTo(srv.x);
  });

  it("smooths a small error: the drawn position does not jump, then converges", () => {
    const me = new Predictor();
    me.reset(400, 400, 0);
    me.applyInput({ seq: 1, dx: 1, dy: 0 }, 0);
    const now = 2 * TICK_MS;
    const before = me.displayed(now);
    // The server has the player 10 units further left than predicted.
    const error = me.reconcile(1, me.x - 10, me.y, now);
    expect(error).toBeCloseTo(10);
    expect(me.counts).toEqual({ applied: 1, smoothed: 1, snapped: 0 });
    const right = me.displayed(now);
    expect(right.x).toBeCloseTo(before.x);
    // After a few correction times the offset is gone: drawn = predicted.
    const later = me.displayed(now + 6 * CORRECTION_MS);
    expect(later.x).toBeCloseTo(me.x, 1);
  });

  it("snaps when the error is large (a respawn on the other side of the map)", () => {
    const me = new Predictor();
    me.reset(400, 400, 0);
    me.applyInput({ seq: 1, dx: 1, dy: 0 }, 0);
    me.reconcile(1, 1500, 1100, 3 * TICK_MS);
    expect(me.counts.snapped).toBe(1);
    expect(me.displayed(3 * TICK_MS)).toEqual({ x: 1500, y: 1100 });
    expect(SNAP_DISTANCE).toBeLessThan(1000);
  });

  it("draws the step between inputs over one tick, not as a jump", () => {
    const me = new Predictor();
    me.reset(400, 400, 0);
    me.applyInput({ seq: 1, dx: 1, dy: 0 }, 1000);
    expect(me.displayed(1000).x).toBeCloseTo(400);
    expect(me.displayed(1000 + TICK_MS / 2).x).toBeCloseTo(400 + PLAYER_SPEED_PER_TICK / 2);
    expect(me.displayed(1000 + TICK_MS).x).toBeCloseTo(400 + PLAYER_SPEED_PER_TICK);
  });

  it("agrees with the server to the tenth over a long run of jittery delivery", () => {
    // Inputs reach the server in bursts (two in one tick, then none). The server queues them as
    // the match does (InputQueue: one per tick in seq order, a tick without one stands still),
    // so every input is applied exactly once, as here, and no correction is ever needed.
    const me = new Predictor();
    const srv = server(200, 200);
    const queue = new InputQueue(new InputGuard().counters);
    me.reset(200, 200, 0);
    const inFlight: PlayerInput[] = [];
    let worst = 0;
    for (let tick = 1; tick <= 200; tick++) {
      const input = { seq: tick, dx: Math.cos(tick / 20), dy: Math.sin(tick / 20) };
      me.applyInput(input, tick * TICK_MS);
      inFlight.push({ ...input, aimAngle: 0, fire: false });
      // Every third tick nothing arrives; the tick after, two do.
      const arriving = tick % 3 === 0 ? [] : inFlight.splice(0, tick % 3 === 1 ? 2 : 1);
      for (const a of arriving) queue.push(a);
      const next = queue.take();
      if (next.seq > srv.ack) srv.apply(next);
      // Positions travel in tenths of a unit.
      const x = Math.round(srv.x * 10) / 10;
      const y = Math.round(srv.y * 10) / 10;
      worst = Math.max(worst, me.reconcile(queue.ack, x, y, tick * TICK_MS + 30));
    }
    expect(srv.ack).toBeGreaterThan(190);
    expect(worst).toBe(0);
    expect(me.counts).toMatchObject({ smoothed: 0, snapped: 0 });
  });
});
