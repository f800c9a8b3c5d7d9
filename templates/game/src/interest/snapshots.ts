/**
 * The match's snapshots, encoded once per entity per tick instead of once per entity per player.
 *
 * `InterestTracker` and `encodeSnapshot` (interest.ts, wire.ts) say what a player is sent: the
 * entities in its view, as records against what it had (enter / update / leave). Done per player,
 * that is a map lookup, a comparison and an encoding for every entity in every player's view,
 * every tick: with 16 players each seeing half the arena, the same entity compared and encoded up
 * to 16 times a tick, which made interest management the largest part of the server's work that
 * a match without it (`bench:colyseus`) does not do.
 *
 * Every receiver that was sent an entity in the previous snapshot holds the same view of it: the
 * one it had then (each snapshot updates every entity in view). So its update record is the same
 * for all of them, and so is its record for a receiver that did not know it (every field).
 * `SnapshotEncoder` makes both once per snapshot tick (`update`), files the entities in a grid of `GRID_CELL` cells, and
 * per player (`encode`) only looks up the cells of its view and copies records: the update for an
 * entity it was sent in the previous snapshot, the whole record for one it was not. A receiver
 * that missed a snapshot (or was `reset`) gets a full one, as `InterestTracker` gives one.
 *
 * The payloads are the wire format of wire.ts, record for record what `encodeSnapshot` makes of
 * the tracker's deltas (the records in grid order rather than enters before updates; a receiver
 * reads them in any order): snapshots.test.ts checks that against the tracker, tick by tick.
 *
 * Entities have slots (small integers) for the receivers' per-entity bookkeeping (a typed array,
 * not a map). A slot freed by an entity that left the world is given to a new one only at a
 * later `update`, so no receiver can take the new entity for the old one.
 *
 * @example
 * const snapshots = new SnapshotEncoder();                // one per match
 * const receiver = new SnapshotReceiver();                // one per connection
 * snapshots.update(world);                                // every snapshot tick (same world: no-op)
 * conn.send("snapshot", snapshots.encode(receiver, me.x, me.y, ack));
 */
import { GRID_CELL, MAP_HEIGHT, MAP_WIDTH } from "../sim/constants.js";
import type { World } from "../sim/step.js";
import { type EntityView, sameView, viewRect, worldViews } from "./interest.js";
import { type WireSnapshot, wireId, writeRecord } from "./wire.js";

/** What one connection has been sent (for `SnapshotEncoder.encode`). */
export class SnapshotReceiver {
  /** By entity slot: the encoder's frame of the last snapshot that had it in view (0: never). */
  seen = new Int32Array(64);
  /** The slots in view at the last snapshot (the first `prevCount`), and a spare list. */
  prev: number[] = [];
  prevCount = 0;
  spare: number[] = [];
  /** The encoder's frame at the last snapshot (0: none yet). */
  lastFrame = 0;
  needsFull = true;

  /** The next snapshot is a full one (after a (re)connect, or a client that lost track). */
  reset(): void {
    this.needsFull = true;
  }
}

const COLS = Math.ceil(MAP_WIDTH / GRID_CELL);
const ROWS = Math.ceil(MAP_HEIGHT / GRID_CELL);
const clamp = (v: number, max: number) => (v < 0 ? 0 : Math.min(v, max));

export class SnapshotEncoder {
  private world: World | null = null;
  private tick = Number.NaN;
  /**
   * Counts the `update`s (from 1), two for a world that does not follow the one before (an
   * earlier tick: nothing can be compared with what was sent of the other).
   */
  private frame = 0;
  /** Entity id to slot, for the entities of the current world. */
  private readonly slotOf = new Map<string, number>();
  /** Slots whose entity left the world at an earlier `update`, free to reuse. */
  private readonly free: number[] = [];
  private capacity = 0;
  // By slot:
  private readonly wire: number[] = [];
  /** The frame of the last `update` the slot's entity was in the world at. */
  private readonly present: number[] = [];
  private readonly views: (EntityView | undefined)[] = [];
  private readonly x: number[] = [];
  private readonly y: number[] = [];
  /** Where each slot's records are in `records`: whole, and as an update (empty: unchanged). */
  private readonly wholeAt: number[] = [];
  private readonly wholeEnd: number[] = [];
  private readonly updateAt: number[] = [];
  private readonly updateEnd: number[] = [];
  private records: number[] = [];
  /** Where `encode` gathers a snapshot's records (never shortened; see there). */
  private readonly scratch: number[] = [];
  /** The grid: slots by cell (the first `cellCount[c]` of `cells[c]`), cells clamped to the map. */
  private readonly cells: number[][] = Array.from({ length: COLS * ROWS }, () => []);
  private readonly cellCount = new Int32Array(COLS * ROWS);

  /**
   * Takes the world of a tick: its entities' views, where they are, and their two records. Called
   * again with the same world it does nothing, so each path that sends a snapshot can call it.
   */
  update(world: World): void {
    if (world === this.world) return;
    const tick = world.tick;
    // An update record is against the entity's view at the previous update (the previous tick
    // when every tick is sent; SEND_EVERY_TICKS apart otherwise), if this world follows it.
    const frame = (this.frame += tick > this.tick ? 1 : 2);
    this.world = world;
    this.tick = tick;
    const records: number[] = [];
    this.records = records;
    this.cellCount.fill(0);
    for (const v of worldViews(world)) {
      let s = this.slotOf.get(v.id);
      let before: EntityView | undefined;
      if (s === undefined) {
        s = this.allocate();
        this.slotOf.set(v.id, s);
        this.wire[s] = wireId(v.id);
      } else if (this.present[s] === frame - 1) {
        before = this.views[s];
      }
      this.present[s] = frame;
      this.views[s] = v;
      // Where it is now (a bullet's view says where it flew from: positionAt, inlined).
      const x = v.k === "b" ? v.x + v.vx * (tick - v.t) : v.x;
      const y = v.k === "b" ? v.y + v.vy * (tick - v.t) : v.y;
      this.x[s] = x;
      this.y[s] = y;
      const cell =
        clamp(Math.floor(y / GRID_CELL), ROWS - 1) * COLS +
        clamp(Math.floor(x / GRID_CELL), COLS - 1);
      this.cells[cell]![this.cellCount[cell]!++] = s;
      this.wholeAt[s] = records.length;
      writeRecord(records, v, undefined, tick);
      this.wholeEnd[s] = records.length;
      this.updateAt[s] = records.length;
      if (before && !sameView(before, v)) writeRecord(records, v, before, tick);
      this.updateEnd[s] = records.length;
    }
    // Entities gone from the world free their slots (for a later tick: see the module comment).
    for (const [id, s] of this.slotOf) {
      if (this.present[s] === frame) continue;
      this.slotOf.delete(id);
      this.views[s] = undefined;
      this.free.push(s);
    }
  }

  /**
   * The snapshot of the current world for a receiver at (x, y), with `ack` (the last input `seq`
   * applied): the records of what is in its view, and the wire ids of what it had at the previous
   * snapshot and has not now. A full snapshot if it asked for one or missed a snapshot.
   */
  encode(receiver: SnapshotReceiver, x: number, y: number, ack: number): WireSnapshot {
    const frame = this.frame;
    if (receiver.seen.length < this.capacity) {
      const grown = new Int32Array(Math.max(this.capacity, 2 * receiver.seen.length));
      grown.set(receiver.seen);
      receiver.seen = grown;
    }
    const full = receiver.needsFull || receiver.lastFrame !== frame - 1;
    receiver.needsFull = false;
    receiver.lastFrame = frame;
    const seen = receiver.seen;
    const now = receiver.spare;
    let count = 0;
    // Records are gathered in a scratch array and copied out once at their final length: an
    // array grown by push for every player of every tick left its outgrown copies behind.
    const e = this.scratch;
    let length = 0;
    const records = this.records;
    const rect = viewRect(x, y);
    const right = rect.x + rect.w;
    const bottom = rect.y + rect.h;
    const c0 = clamp(Math.floor(rect.x / GRID_CELL), COLS - 1);
    const c1 = clamp(Math.floor(right / GRID_CELL), COLS - 1);
    const r0 = clamp(Math.floor(rect.y / GRID_CELL), ROWS - 1);
    const r1 = clamp(Math.floor(bottom / GRID_CELL), ROWS - 1);
    for (let row = r0; row <= r1; row++) {
      for (let col = c0; col <= c1; col++) {
        const cell = row * COLS + col;
        const slots = this.cells[cell]!;
        const n = this.cellCount[cell]!;
        for (let i = 0; i < n; i++) {
          const s = slots[i]!;
          const sx = this.x[s]!;
          const sy = this.y[s]!;
          if (sx < rect.x || sx > right || sy < rect.y || sy > bottom) continue;
          let from: number;
          let to: number;
          if (!full && seen[s] === frame - 1) {
            from = this.updateAt[s]!;
            to = this.updateEnd[s]!;
          } else {
            from = this.wholeAt[s]!;
            to = this.wholeEnd[s]!;
          }
          for (let j = from; j < to; j++) e[length++] = records[j]!;
          seen[s] = frame;
          now[count++] = s;
        }
      }
    }
    let l: number[] | undefined;
    if (!full) {
      const prev = receiver.prev;
      for (let i = 0; i < receiver.prevCount; i++) {
        const s = prev[i]!;
        if (seen[s] !== frame) (l ??= []).push(this.wire[s]!);
      }
    }
    receiver.spare = receiver.prev;
    receiver.prev = now;
    receiver.prevCount = count;
    // One shape for every payload; JSON leaves out the fields that are undefined.
    return {
      t: this.tick,
      a: ack,
      f: full ? 1 : undefined,
      e: length > 0 ? e.slice(0, length) : undefined,
      l,
      k: undefined,
    };
  }

  private allocate(): number {
    const s = this.free.pop();
    if (s !== undefined) return s;
    return this.capacity++;
  }
}
