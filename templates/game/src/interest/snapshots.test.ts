import { describe, expect, it } from "vitest";
import { seedFrom } from "../sim/rng.js";
import { createWorld } from "../sim/step.js";
import {
  applyDelta,
  type EntityView,
  InterestTracker,
  SpatialGrid,
  visibleFrom,
  worldViews,
} from "./interest.js";
import { SnapshotEncoder, SnapshotReceiver } from "./snapshots.js";
import { expectedAt, tickBots } from "./test-worlds.js";
import { decodeSnapshot, encodeSnapshot, type WireSnapshot } from "./wire.js";

const IDS = Array.from({ length: 12 }, (_, i) => `p${i + 1}`);

/** Through JSON, as the client gets it. */
const wire = (payload: WireSnapshot): unknown => JSON.parse(JSON.stringify(payload));

/** A delta with its lists in id order (the encoder writes records in grid order). */
function sorted<T extends { enter: EntityView[]; update: EntityView[]; leave: string[] }>(d: T) {
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
  return {
    ...d,
    enter: [...d.enter].sort(byId),
    update: [...d.update].sort(byId),
    leave: [...d.leave].sort(),
  };
}

describe("SnapshotEncoder", () => {
  it("sends every player, snapshot by snapshot, what the tracker and encodeSnapshot send", () => {
    let world = createWorld(seedFrom("snapshots"), IDS);
    const encoder = new SnapshotEncoder();
    const receivers = new Map(IDS.map((id) => [id, new SnapshotReceiver()]));
    const trackers = new Map(IDS.map((id) => [id, new InterestTracker()]));
    const copies = new Map(IDS.map((id) => [id, new Map<string, EntityView>()]));
    let enters = 0;
    let updates = 0;
    let leaves = 0;
    for (let tick = 0; tick < 400; tick++) {
      world = tickBots(world);
      encoder.update(world);
      encoder.update(world); // the same world again: nothing changes
      const grid = SpatialGrid.from(worldViews(world), world.tick);
      for (const id of IDS) {
        const me = world.players[id]!;
        const copy = copies.get(id)!;
        const tracker = trackers.get(id)!;
        const reference = tracker.diff(visibleFrom(grid, me.x, me.y));
        const expected = wire(
          encodeSnapshot({ t: world.tick, ack: tick, ...reference }, tracker.previous),
        );
        const payload = wire(encoder.encode(receivers.get(id)!, me.x, me.y, tick));
        // The same bytes (records in another order), and the same changes once read.
        expect(JSON.stringify(payload).length).toBe(JSON.stringify(expected).length);
        const got = decodeSnapshot(payload, copy);
        expect(sorted(got)).toEqual(sorted(decodeSnapshot(expected, copy)));
        applyDelta(copy, got);
        expect(copy).toEqual(expectedAt(world, me.x, me.y));
        if (tick > 0) {
          enters += got.enter.length;
          updates += got.update.length;
          leaves += got.leave.length;
        }
      }
    }
    expect(enters).toBeGreaterThan(50);
    expect(updates).toBeGreaterThan(50);
    expect(leaves).toBeGreaterThan(50);
  });

  it("gives a full snapshot to a new or reset receiver and to one that missed a snapshot", () => {
    let world = createWorld(seedFrom("snapshots-full"), IDS);
    const encoder = new SnapshotEncoder();
    const receiver = new SnapshotReceiver();
    const copy = new Map<string, EntityView>();
    const me = () => world.players.p1!;
    const send = () => {
      const payload = wire(encoder.encode(receiver, me().x, me().y, 0)) as WireSnapshot;
      applyDelta(copy, decodeSnapshot(payload, copy));
      expect(copy).toEqual(expectedAt(world, me().x, me().y));
      return payload;
    };
    const fulls: number[] = [];
    for (let tick = 1; tick <= 120; tick++) {
      world = tickBots(world);
      encoder.update(world);
      if (tick % 7 === 0) continue; // this receiver misses a snapshot
      if (tick % 11 === 0) receiver.reset();
      if (send().f === 1) fulls.push(tick);
    }
    const expected = [1];
    for (let tick = 2; tick <= 120; tick++) {
      if (tick % 7 !== 0 && ((tick - 1) % 7 === 0 || tick % 11 === 0)) expected.push(tick);
    }
    expect(fulls).toEqual(expected);
  });

  it("follows snapshots sent every few ticks, and a world that does not follow the last", () => {
    let world = createWorld(seedFrom("snapshots-rate"), IDS);
    const encoder = new SnapshotEncoder();
    const receiver = new SnapshotReceiver();
    const copy = new Map<string, EntityView>();
    let deltas = 0;
    for (let tick = 1; tick <= 150; tick++) {
      world = tickBots(world);
      if (tick % 3 !== 0) continue; // one snapshot every third tick
      encoder.update(world);
      const me = world.players.p2!;
      const payload = wire(encoder.encode(receiver, me.x, me.y, tick)) as WireSnapshot;
      if (payload.f !== 1) deltas++;
      applyDelta(copy, decodeSnapshot(payload, copy));
      expect(copy).toEqual(expectedAt(world, me.x, me.y));
    }
    expect(deltas).toBe(49);
    // A world from before (a match started again): nothing it says is a change from the last.
    const again = tickBots(createWorld(seedFrom("snapshots-rate"), IDS));
    encoder.update(again);
    const me = again.players.p2!;
    expect(encoder.encode(receiver, me.x, me.y, 0).f).toBe(1);
  });

  it("tells everyone an entity left the world, and never mistakes a new entity for it", () => {
    let world = createWorld(seedFrom("snapshots-leave"), ["p1", "p2", "p3"]);
    const encoder = new SnapshotEncoder();
    const receivers = ["p1", "p2"].map(() => new SnapshotReceiver());
    const copies = ["p1", "p2"].map(() => new Map<string, EntityView>());
    const send = () => {
      ["p1", "p2"].forEach((id, i) => {
        const me = world.players[id]!;
        const payload = wire(encoder.encode(receivers[i]!, me.x, me.y, 0));
        applyDelta(copies[i]!, decodeSnapshot(payload, copies[i]!));
        expect(copies[i]).toEqual(expectedAt(world, me.x, me.y));
      });
    };
    // Every entity in everyone's view: all three players at one spot.
    for (const p of Object.values(world.players)) Object.assign(p, { x: 800, y: 600 });
    encoder.update(world);
    send();
    expect(copies[0]!.has("p3")).toBe(true);
    // p3 is removed; in the same step bullets come and go, and their slots are reused.
    world = tickBots(world);
    delete world.players.p3;
    encoder.update(world);
    send();
    expect(copies[0]!.has("p3")).toBe(false);
    for (let i = 0; i < 200; i++) {
      world = tickBots(world);
      encoder.update(world);
      send();
    }
  });
});
