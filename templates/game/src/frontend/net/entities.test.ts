import { describe, expect, it } from "vitest";
import { applyDelta, type EntityView } from "../../interest/interest.js";
import { encodeSnapshot } from "../../interest/wire.js";
import { BULLET_RADIUS, PLAYER_RADIUS, TICK_MS } from "../../sim/constants.js";
import { EntityTable, isOwnBullet } from "./entities.js";
import { INTERPOLATION_DELAY_MS, lerpAngle, sampleAt, TickClock } from "./interpolation.js";
import { type Snapshot, snapshotFromWire, WireError } from "./wire.js";

const p = (id: string, x: number, y: number, extra: Partial<EntityView> = {}): EntityView =>
  ({ id, k: "p", x, y, a: 0, hp: 100, alive: true, shielded: false, ...extra }) as EntityView;

describe("snapshotFromWire", () => {
  const b = (id: string, x: number, y: number, vx: number, vy: number, t: number): EntityView => ({
    id,
    k: "b",
    x,
    y,
    vx,
    vy,
    t,
  });

  it("reads what the server encodes, against the entities the client knows", () => {
    const h1: EntityView = { id: "h1", k: "h", x: 5, y: 6, on: true };
    const first = { t: 7, ack: 3, full: true, enter: [p("p1", 1, 2), h1], update: [], leave: [] };
    const known = new Map<string, EntityView>();
    const s1 = snapshotFromWire(encodeSnapshot(first, known), known);
    expect(s1).toEqual({
      t: 7,
      ack: 3,
      delta: { full: true, enter: [p("p1", 1, 2), h1], update: [], leave: [] },
    });
    applyDelta(known, s1.delta);

    // Only p1's x changed: the wire carries that field alone, the client gets the whole view.
    const before = new Map(known);
    const second = {
      t: 8,
      ack: 4,
      full: false,
      enter: [b("b3", 10, 20, 45, 0, 7)],
      update: [p("p1", 1.5, 2)],
      leave: ["h1"],
    };
    const payload = encodeSnapshot(second, before);
    expect(payload.e).toContain(15); // x in tenths
    const s2 = snapshotFromWire(payload, known);
    expect(s2.delta.update).toEqual([p("p1", 1.5, 2)]);
    expect(s2.delta.enter).toEqual([b("b3", 10, 20, 45, 0, 7)]);
    expect(s2.delta.leave).toEqual(["h1"]);
    expect(s2.delta.full).toBe(false);
  });

  it("refuses what it cannot read, and a change to an entity the client does not know", () => {
    const known = new Map<string, EntityView>();
    expect(() => snapshotFromWire(null, known)).toThrow(WireError);
    expect(() => snapshotFromWire({ t: 1, a: 0, e: ["x"] }, known)).toThrow(WireError);
    // p1 with only its x (mask 1): fine for a client that knows p1, not for one that does not.
    const onlyX = { t: 2, a: 0, e: [1, 1, 40] };
    expect(() => snapshotFromWire(onlyX, known)).toThrow(/p1 is new to the receiver/);
    known.set("p1", p("p1", 0, 0));
    expect(snapshotFromWire(onlyX, known).delta.update).toEqual([p("p1", 4, 0)]);
  });
});

describe("EntityTable", () => {
  const snap = (t: number, delta: Partial<Snapshot["delta"]>): Snapshot => ({
    t,
    ack: -1,
    delta: { full: false, enter: [], update: [], leave: [], ...delta },
  });

  it("keeps the table from enter / update / leave, and starts over on full", () => {
    const table = new EntityTable();
    table.apply(snap(1, { full: true, enter: [p("p1", 0, 0), p("p2", 10, 10)] }), 0);
    table.apply(snap(2, { enter: [p("p3", 5, 5)], update: [p("p1", 4, 0)], leave: ["p2"] }), 50);
    expect([...table.known.keys()].sort()).toEqual(["p1", "p3"]);
    expect(table.known.get("p1")!.x).toBe(4);
    table.apply(snap(3, { full: true, enter: [p("p9", 1, 1)] }), 100);
    expect([...table.known.keys()]).toEqual(["p9"]);
  });

  it("draws others between snapshots, INTERPOLATION_DELAY_MS in the past", () => {
    const table = new EntityTable();
    table.apply(snap(10, { full: true, enter: [p("p2", 100, 100)] }), 1000);
    table.apply(snap(11, { update: [p("p2", 110, 100)] }), 1000 + TICK_MS);
    table.apply(snap(12, { update: [p("p2", 120, 100)] }), 1000 + 2 * TICK_MS);
    // At the arrival of tick 12, the drawn moment is tick 12 - delay: tick 10 with a 100 ms delay.
    const now = 1000 + 2 * TICK_MS;
    const ticksBack = INTERPOLATION_DELAY_MS / TICK_MS;
    expect(table.poseAt("p2", now)!.x).toBeCloseTo(120 - 10 * ticksBack);
    // Half a tick later, half-way to the next sample.
    expect(table.poseAt("p2", now + TICK_MS / 2)!.x).toBeCloseTo(120 - 10 * ticksBack + 5);
    // Never guessed past the newest sample.
    expect(table.poseAt("p2", now + 10_000)!.x).toBe(120);
  });

  it("an entity that stood still (absent from deltas) does not slide when it moves again", () => {
    const table = new EntityTable();
    table.apply(snap(1, { full: true, enter: [p("p2", 0, 0)] }), 0);
    for (let t = 2; t <= 10; t++) table.apply(snap(t, {}), (t - 1) * TICK_MS);
    table.apply(snap(11, { update: [p("p2", 11, 0)] }), 10 * TICK_MS);
    // Drawn at tick 10.5 (delay 2 ticks before 12.5): between (10, 0) and (11, 11).
    const x = table.poseAt("p2", 11.5 * TICK_MS)!.x;
    expect(x).toBeCloseTo(5.5);
  });

  it("forgets a left entity's history: coming back, it appears where it is", () => {
    const table = new EntityTable();
    table.apply(snap(1, { full: true, enter: [p("p2", 0, 0)] }), 0);
    table.apply(snap(2, { leave: ["p2"] }), TICK_MS);
    table.apply(snap(3, { enter: [p("p2", 500, 500)] }), 2 * TICK_MS);
    expect(table.poseAt("p2", 2 * TICK_MS)).toEqual({ x: 500, y: 500, a: 0 });
  });
});

describe("EntityTable: bullets", () => {
  const snap = (t: number, delta: Partial<Snapshot["delta"]>): Snapshot => ({
    t,
    ack: -1,
    delta: { full: false, enter: [], update: [], leave: [], ...delta },
  });
  // Fired at tick 9 from (100, 100), flying 45 units a tick to the right.
  const bullet: EntityView = { id: "b1", k: "b", x: 100, y: 100, vx: 45, vy: 0, t: 9 };
  const ticksBack = INTERPOLATION_DELAY_MS / TICK_MS;
  const drawn = (table: EntityTable, now: number) =>
    table.poses(now).find((e) => e.view.id === "b1")?.pose;

  it("are sent once and drawn where they fly at the render tick, like the players", () => {
    const table = new EntityTable();
    table.apply(snap(10, { full: true, enter: [bullet, p("p2", 0, 0)] }), 1000);
    // Tick 10 arrived now: the render tick is tick 10 - delay, before the shot: not drawn yet.
    expect(drawn(table, 1000)).toBeUndefined();
    // Later snapshots say nothing of it; it moves on by itself.
    table.apply(snap(11, {}), 1000 + TICK_MS);
    table.apply(snap(12, {}), 1000 + 2 * TICK_MS);
    const at = (tick: number) => 1000 + (tick - 10 + ticksBack) * TICK_MS;
    expect(drawn(table, at(10))).toMatchObject({ x: 145, y: 100 });
    expect(drawn(table, at(11.5))!.x).toBeCloseTo(100 + 45 * 2.5);
  });

  it("a bullet that left is drawn until the render tick passes the last snapshot that had it", () => {
    const table = new EntityTable();
    table.apply(snap(10, { full: true, enter: [bullet] }), 1000);
    table.apply(snap(11, {}), 1000 + TICK_MS);
    table.apply(snap(12, { leave: ["b1"] }), 1000 + 2 * TICK_MS);
    expect(table.known.has("b1")).toBe(false); // the decoder's copy follows the server at once
    const at = (tick: number) => 1000 + (tick - 10 + ticksBack) * TICK_MS;
    expect(drawn(table, at(10.5))!.x).toBeCloseTo(100 + 45 * 1.5);
    expect(drawn(table, at(11))!.x).toBe(100 + 45 * 2);
    expect(drawn(table, at(11.2))).toBeUndefined();
    // And it is forgotten: drawn no more even if the clock were asked about the past again.
    expect(drawn(table, at(10.5))).toBeUndefined();
  });

  it("an own bullet is drawn at the present tick, from the muzzle where the player is drawn", () => {
    const table = new EntityTable();
    // The server had the shooter 21 units left of (100, 100) at tick 10; it is drawn 30 further on.
    table.apply(snap(10, { full: true, enter: [bullet] }), 1000);
    table.markOwn("b1", 30, 0);
    // At once, at tick 10 (no interpolation delay): one step out of the muzzle, plus the offset.
    expect(drawn(table, 1000)).toMatchObject({ x: 145 + 30, y: 100 });
    expect(drawn(table, 1000 + TICK_MS / 2)!.x).toBeCloseTo(100 + 45 * 1.5 + 30);
    // Gone as soon as a snapshot says it left (not a render delay later).
    table.apply(snap(11, { leave: ["b1"] }), 1000 + TICK_MS);
    expect(drawn(table, 1000 + TICK_MS + 1)).toBeUndefined();
  });

  it("tells the player's own new shots from the others'", () => {
    const muzzle = PLAYER_RADIUS + BULLET_RADIUS + 1;
    const me = { x: 100 - muzzle, y: 100 };
    expect(isOwnBullet(bullet as Extract<EntityView, { k: "b" }>, me, 10)).toBe(true);
    const b = bullet as Extract<EntityView, { k: "b" }>;
    // Fired a tick earlier (seen late), flying towards the player, or from elsewhere: not its own.
    expect(isOwnBullet(b, me, 11)).toBe(false);
    expect(isOwnBullet({ ...b, vx: -45 }, me, 10)).toBe(false);
    expect(isOwnBullet(b, { x: 40, y: 100 }, 10)).toBe(false);
    expect(isOwnBullet({ ...b, vx: 0, vy: 45 }, me, 10)).toBe(false);
  });

  it("a full snapshot forgets bullets on their way out", () => {
    const table = new EntityTable();
    table.apply(snap(10, { full: true, enter: [bullet] }), 1000);
    table.apply(snap(11, { leave: ["b1"] }), 1000 + TICK_MS);
    table.apply(snap(12, { full: true, enter: [p("p2", 0, 0)] }), 1000 + 2 * TICK_MS);
    expect(table.poses(1000 + 2 * TICK_MS).map((e) => e.view.id)).toEqual(["p2"]);
  });
});

describe("interpolation helpers", () => {
  it("TickClock follows an early arrival at once and a late one slowly", () => {
    const clock = new TickClock();
    clock.observe(10, 1000);
    expect(clock.renderTick(1000, 0)).toBeCloseTo(10);
    clock.observe(11, 1000 + TICK_MS + 200); // 200 ms late
    expect(clock.renderTick(1000 + TICK_MS, 0)!).toBeGreaterThan(10.5);
    clock.observe(12, 1000 + 2 * TICK_MS - 30); // early
    expect(clock.renderTick(1000 + 2 * TICK_MS - 30, 0)).toBeCloseTo(12);
  });

  it("turns the short way round", () => {
    expect(lerpAngle(3, -3, 0.5)).toBeCloseTo(Math.PI);
    expect(lerpAngle(0.1, -0.1, 0.5)).toBeCloseTo(0);
  });

  it("sampleAt holds before the first and after the last sample", () => {
    const s = [
      { t: 1, x: 0, y: 0, a: 0 },
      { t: 2, x: 10, y: 0, a: 0 },
    ];
    expect(sampleAt(s, 0)!.x).toBe(0);
    expect(sampleAt(s, 1.25)!.x).toBeCloseTo(2.5);
    expect(sampleAt(s, 9)!.x).toBe(10);
    expect(sampleAt([], 1)).toBeUndefined();
  });
});
