import { describe, expect, it } from "vitest";
import { MAP_HEIGHT, MAP_WIDTH } from "../sim/constants.js";
import { seedFrom } from "../sim/rng.js";
import { createWorld, type World } from "../sim/step.js";
import {
  applyDelta,
  type EntityView,
  InterestTracker,
  inRect,
  positionAt,
  SpatialGrid,
  visibleFrom,
  worldViews,
} from "./interest.js";
import { expectedAt, tickBots } from "./test-worlds.js";
import { decodeSnapshot, encodeSnapshot } from "./wire.js";

const IDS = Array.from({ length: 12 }, (_, i) => `p${i + 1}`);

/** What `id` should know: every entity in its view, found without the grid. */
function expectedFor(world: World, id: string): Map<string, EntityView> {
  const me = world.players[id]!;
  return expectedAt(world, me.x, me.y);
}

const gridOf = (world: World) => SpatialGrid.from(worldViews(world), world.tick);

describe("SpatialGrid", () => {
  it("finds exactly the entities in a rectangle, at any position and size", () => {
    const views = Array.from({ length: 500 }, (_, i) => ({
      id: `b${i}`,
      k: "b" as const,
      x: (i * 7919) % MAP_WIDTH,
      y: (i * 104729) % MAP_HEIGHT,
      vx: (i % 7) - 3,
      vy: (i % 5) - 2,
      t: 10,
    }));
    // Filed where they are at tick 30: 20 ticks on from their views.
    const grid = SpatialGrid.from(views, 30);
    for (const rect of [
      { x: 0, y: 0, w: 100, h: 100 },
      { x: -300, y: -300, w: 700, h: 500 },
      { x: 777, y: 333, w: 1200, h: 880 },
      { x: 1599, y: 1199, w: 1, h: 1 },
    ]) {
      const expected = views
        .filter((v) => inRect(rect, v.x + v.vx * 20, v.y + v.vy * 20))
        .map((v) => v.id);
      expect(
        grid
          .query(rect)
          .map((v) => v.id)
          .sort(),
      ).toEqual(expected.sort());
    }
  });
});

describe("InterestTracker", () => {
  it("deltas keep every receiver's copy equal to a full snapshot of its view, through the wire", () => {
    let world = createWorld(seedFrom("interest"), IDS);
    const trackers = new Map(IDS.map((id) => [id, new InterestTracker()]));
    const copies = new Map(IDS.map((id) => [id, new Map<string, EntityView>()]));
    let entered = 0;
    let left = 0;
    let updated = 0;
    let unchangedKept = 0;
    for (let tick = 0; tick < 400; tick++) {
      world = tickBots(world);
      const grid = gridOf(world);
      for (const id of IDS) {
        const me = world.players[id]!;
        const copy = copies.get(id)!;
        const before = new Map(copy);
        const tracker = trackers.get(id)!;
        const sent = tracker.diff(visibleFrom(grid, me.x, me.y));
        // What the client gets: the encoded payload through JSON, decoded against its copy.
        const payload = JSON.parse(
          JSON.stringify(encodeSnapshot({ t: world.tick, ack: tick, ...sent }, tracker.previous)),
        );
        // The tracker's `previous` is what the receiver had of each update (what masks compare).
        for (const v of sent.update) expect(tracker.previous.get(v.id)).toEqual(before.get(v.id));
        const delta = decodeSnapshot(payload, copy);
        expect(delta).toEqual({ t: world.tick, ack: tick, ...sent });
        applyDelta(copy, delta);
        expect(copy).toEqual(expectedFor(world, id));
        // Only what changed is sent: nothing in `update` equals what the receiver had.
        for (const v of delta.update) expect(before.get(v.id)).not.toEqual(v);
        unchangedKept += [...copy.keys()].filter(
          (k) => before.has(k) && !delta.update.some((v) => v.id === k),
        ).length;
        if (tick > 0) {
          entered += delta.enter.length;
          left += delta.leave.length;
          updated += delta.update.length;
        }
      }
    }
    // The scenario exercised every kind of change, and deltas left out what did not change.
    expect(entered).toBeGreaterThan(50);
    expect(left).toBeGreaterThan(50);
    expect(updated).toBeGreaterThan(50);
    expect(unchangedKept).toBeGreaterThan(0);
  });

  it("gives a late joiner, or a player back after a reconnect, a full snapshot", () => {
    let world = createWorld(seedFrom("late"), IDS);
    const tracker = new InterestTracker();
    const copy = new Map<string, EntityView>();
    for (let i = 0; i < 50; i++) world = tickBots(world);
    const me = () => world.players.p1!;
    let delta = tracker.diff(visibleFrom(gridOf(world), me().x, me().y));
    expect(delta.full).toBe(true);
    expect(delta.update).toEqual([]);
    expect(delta.leave).toEqual([]);
    applyDelta(copy, delta);
    expect(copy).toEqual(expectedFor(world, "p1"));

    // A reconnect: the client starts from nothing, the tracker starts over with a full snapshot.
    for (let i = 0; i < 30; i++) world = tickBots(world);
    tracker.reset();
    const fresh = new Map<string, EntityView>([
      ["stale", { id: "stale", k: "b", x: 0, y: 0, vx: 0, vy: 0, t: 0 }],
    ]);
    delta = tracker.diff(visibleFrom(gridOf(world), me().x, me().y));
    expect(delta.full).toBe(true);
    applyDelta(fresh, delta);
    expect(fresh).toEqual(expectedFor(world, "p1"));
  });

  it("sends leave for an entity gone from the world, and nothing when nothing changed", () => {
    const world = createWorld(1, ["a", "b"]);
    Object.assign(world.players.a!, { x: 400, y: 400 });
    Object.assign(world.players.b!, { x: 500, y: 400 });
    const tracker = new InterestTracker();
    tracker.diff(visibleFrom(gridOf(world), 400, 400));
    expect(tracker.diff(visibleFrom(gridOf(world), 400, 400))).toEqual({
      full: false,
      enter: [],
      update: [],
      leave: [],
    });
    delete world.players.b;
    expect(tracker.diff(visibleFrom(gridOf(world), 400, 400)).leave).toEqual(["b"]);
  });
});

describe("bullets", () => {
  it("are where their view says, at every tick of their flight, and are never updated", () => {
    let world = createWorld(seedFrom("bullets"), IDS);
    const tracker = new InterestTracker();
    let checked = 0;
    for (let tick = 0; tick < 200; tick++) {
      world = tickBots(world);
      const views = new Map(worldViews(world).map((v) => [v.id, v]));
      for (const b of world.bullets) {
        const at = positionAt(views.get(b.id)!, world.tick);
        // The view is rounded to tenths: after a full flight that is under a unit away.
        expect(Math.abs(at.x - b.x)).toBeLessThan(1);
        expect(Math.abs(at.y - b.y)).toBeLessThan(1);
        checked += 1;
      }
      const me = world.players.p1!;
      const delta = tracker.diff(visibleFrom(gridOf(world), me.x, me.y));
      if (tick > 0) expect(delta.update.filter((v) => v.k === "b")).toEqual([]);
    }
    expect(checked).toBeGreaterThan(500);
  });
});
