/**
 * Interest management: each player receives only what is near it, as changes against what it
 * last received.
 *
 * Every tick the match turns the world into entity views (`worldViews`: players, bullets and
 * health packs, positions rounded to a tenth of a unit; a bullet as where it flies from) and files them in a `SpatialGrid` of
 * `GRID_CELL`-sized cells. For each player, `visibleFrom` reads the cells its view rectangle
 * (`VIEW_WIDTH` x `VIEW_HEIGHT` plus `VIEW_MARGIN` on each side) overlaps, and its
 * `InterestTracker` compares the result with what that player already knows: entities that came
 * into view are `enter` (whole), known ones that changed are `update` (whole, only if changed),
 * and known ones now out of view or gone from the world are `leave` (ids). A player that has just
 * (re)connected gets a full snapshot instead: everything in view as `enter`, with `full: true`,
 * so it starts from a clean slate.
 *
 * `InterestTracker` is the definition of what a player is sent, one player at a time. The match
 * sends the same through `SnapshotEncoder` (snapshots.ts), which encodes each entity once per tick
 * for all players and is tested against the tracker and `encodeSnapshot`, snapshot by snapshot.
 *
 * @example
 * const grid = SpatialGrid.from(worldViews(world), world.tick);
 * const delta = tracker.diff(visibleFrom(grid, me.x, me.y));
 * conn.send("snapshot", encodeSnapshot({ t: world.tick, ack, ...delta }, tracker.previous)); // wire.ts
 */
import { GRID_CELL, VIEW_HEIGHT, VIEW_MARGIN, VIEW_WIDTH } from "../sim/constants.js";
import type { Rect } from "../sim/map.js";
import { isShielded, type World } from "../sim/step.js";

/**
 * What a client is told about one entity. `k`: p(layer), b(ullet), h(ealth pack).
 *
 * A bullet flies straight at a constant speed, so its view does not change while it flies: it
 * was at (x, y) at tick `t` and moves (vx, vy) per tick; `positionAt(view, tick)` says where it is
 * at any tick. A receiver is told about a bullet once, when it comes into view, and moves it
 * itself; no update is sent for it every tick.
 */
export type EntityView =
  | {
      id: string;
      k: "p";
      x: number;
      y: number;
      a: number;
      hp: number;
      alive: boolean;
      /** Spawn protection (`isShielded` in sim/step.ts): takes no damage; only while alive. */
      shielded: boolean;
    }
  | { id: string; k: "b"; x: number; y: number; vx: number; vy: number; t: number }
  | { id: string; k: "h"; x: number; y: number; on: boolean };

export interface Delta {
  /** True when this is a whole snapshot: the receiver drops what it knew before applying it. */
  full: boolean;
  enter: EntityView[];
  update: EntityView[];
  leave: string[];
}

// `+ 0` turns -0 into 0: the two are equal to the tracker, but not to a test's deep equality.
const r1 = (v: number) => Math.round(v * 10) / 10 + 0;
const r2 = (v: number) => Math.round(v * 100) / 100 + 0;

/** Every entity of the world as a client sees it. */
export function worldViews(world: World): EntityView[] {
  const views: EntityView[] = [];
  for (const p of Object.values(world.players)) {
    views.push({
      id: p.id,
      k: "p",
      x: r1(p.x),
      y: r1(p.y),
      a: r2(p.aim),
      hp: p.hp,
      alive: p.alive,
      shielded: isShielded(p, world.tick),
    });
  }
  for (const b of world.bullets) {
    views.push({ id: b.id, k: "b", x: r1(b.ox), y: r1(b.oy), vx: r1(b.vx), vy: r1(b.vy), t: b.ot });
  }
  for (const h of world.pickups) views.push({ id: h.id, k: "h", x: h.x, y: h.y, on: h.active });
  return views;
}

/** Where the entity of `view` is at `tick` (a bullet moves on from where its view says). */
export function positionAt(view: EntityView, tick: number): { x: number; y: number } {
  if (view.k !== "b") return { x: view.x, y: view.y };
  const n = tick - view.t;
  return { x: view.x + view.vx * n, y: view.y + view.vy * n };
}

/** The area a player at (x, y) receives entities from. */
export function viewRect(x: number, y: number): Rect {
  const w = VIEW_WIDTH + 2 * VIEW_MARGIN;
  const h = VIEW_HEIGHT + 2 * VIEW_MARGIN;
  return { x: x - w / 2, y: y - h / 2, w, h };
}

export function inRect(rect: Rect, x: number, y: number): boolean {
  return x >= rect.x && x <= rect.x + rect.w && y >= rect.y && y <= rect.y + rect.h;
}

interface Placed {
  view: EntityView;
  x: number;
  y: number;
}

/**
 * Entities filed by grid cell at their position at one tick, rebuilt every tick (cheaper than
 * moving them between cells).
 */
export class SpatialGrid {
  private readonly cells = new Map<number, Placed[]>();

  constructor(
    private readonly tick: number,
    private readonly cell = GRID_CELL,
  ) {}

  /** The grid of `views` where they are at `tick`. */
  static from(views: Iterable<EntityView>, tick: number, cell = GRID_CELL): SpatialGrid {
    const grid = new SpatialGrid(tick, cell);
    for (const v of views) grid.insert(v);
    return grid;
  }

  /** Cell coordinates packed in one number; the map is far smaller than 2^16 cells a side. */
  private keyOf(cx: number, cy: number): number {
    return (cx + 0x8000) * 0x10000 + (cy + 0x8000);
  }

  insert(view: EntityView): void {
    const { x, y } = positionAt(view, this.tick);
    const key = this.keyOf(Math.floor(x / this.cell), Math.floor(y / this.cell));
    let bucket = this.cells.get(key);
    if (!bucket) this.cells.set(key, (bucket = []));
    bucket.push({ view, x, y });
  }

  /** The entities inside `rect`, appended to `out` (a new array unless one is given). */
  query(rect: Rect, out: EntityView[] = []): EntityView[] {
    out.length = this.fill(rect, out, out.length);
    return out;
  }

  /**
   * Writes the entities inside `rect` into `out` from index `at` on, and returns the index after
   * the last one written; it does not change `out.length` (see `visibleFrom`).
   */
  private fill(rect: Rect, out: EntityView[], at: number): number {
    const x0 = Math.floor(rect.x / this.cell);
    const x1 = Math.floor((rect.x + rect.w) / this.cell);
    const y0 = Math.floor(rect.y / this.cell);
    const y1 = Math.floor((rect.y + rect.h) / this.cell);
    let n = at;
    for (let cx = x0; cx <= x1; cx++) {
      for (let cy = y0; cy <= y1; cy++) {
        const bucket = this.cells.get(this.keyOf(cx, cy));
        if (!bucket) continue;
        for (const p of bucket) if (inRect(rect, p.x, p.y)) out[n++] = p.view;
      }
    }
    return n;
  }

  /**
   * `out` refilled with the entities inside `rect`. Its elements are overwritten in place and
   * its length set once at the end: emptying it first (`length = 0`) made V8 drop its storage,
   * so every player's view of every tick allocated it again.
   */
  refill(rect: Rect, out: EntityView[]): EntityView[] {
    const n = this.fill(rect, out, 0);
    if (out.length !== n) out.length = n;
    return out;
  }
}

/**
 * What a player at (x, y) sees. `out`, when given, is emptied and filled (the match reuses one
 * array for all its players, every tick, rather than making one per player per tick).
 */
export function visibleFrom(
  grid: SpatialGrid,
  x: number,
  y: number,
  out?: EntityView[],
): EntityView[] {
  return out ? grid.refill(viewRect(x, y), out) : grid.query(viewRect(x, y));
}

/** Whether a receiver holding `a` would be told nothing new by `b`. */
export function sameView(a: EntityView, b: EntityView): boolean {
  if (a.k !== b.k || a.x !== b.x || a.y !== b.y) return false;
  if (a.k === "p" && b.k === "p") {
    return a.a === b.a && a.hp === b.hp && a.alive === b.alive && a.shielded === b.shielded;
  }
  if (a.k === "h" && b.k === "h") return a.on === b.on;
  if (a.k === "b" && b.k === "b") return a.vx === b.vx && a.vy === b.vy && a.t === b.t;
  return true;
}

/** One entity a receiver knows: its view, the one it had before the last diff, when last seen. */
interface Known {
  view: EntityView;
  was: EntityView | undefined;
  mark: number;
}

/**
 * What one receiver knows, and the deltas that keep it current.
 *
 * Its map is changed in place: an entity still in view has its entry updated, one that left is
 * deleted, one that entered is added, so a tick makes no map per receiver (with 16 players at
 * 20 Hz per match, a fresh map per player per tick was a large share of the server's garbage).
 * What the receiver had before the last diff, which the wire encoder compares with, is kept on
 * the entries and read through `previous`.
 */
export class InterestTracker {
  private readonly known = new Map<string, Known>();
  /** Which diff an entry was last seen in. */
  private mark = 0;
  private needsFull = true;
  /** What `diff` returns, refilled by each call. */
  private readonly delta: Delta = { full: false, enter: [], update: [], leave: [] };

  /**
   * The view the receiver had of an entity before the last `diff` (undefined when the entity was
   * new to it, or is not in view): what `encodeSnapshot` compares the delta's updates with.
   */
  readonly previous: { get(id: string): EntityView | undefined } = {
    get: (id) => {
      const k = this.known.get(id);
      return k && k.mark === this.mark ? k.was : undefined;
    },
  };

  /** The next delta sends a full snapshot (after a (re)connect). */
  reset(): void {
    this.needsFull = true;
  }

  /** How many entities the receiver knows. */
  get size(): number {
    return this.known.size;
  }

  /**
   * The delta from what the receiver knows to `visible`, which becomes what it knows. The delta
   * and its arrays belong to the tracker and are refilled by the next `diff`: use it (encode it)
   * before then. (Fresh ones for every player of every tick were the largest share of what the
   * snapshots allocated.)
   */
  diff(visible: readonly EntityView[]): Delta {
    const mark = ++this.mark;
    const known = this.known;
    const out = this.delta;
    const { enter, update, leave } = out;
    let entered = 0;
    let updated = 0;
    let left = 0;
    const full = this.needsFull;
    if (full) {
      this.needsFull = false;
      known.clear();
      for (const v of visible) {
        known.set(v.id, { view: v, was: undefined, mark });
        enter[entered++] = v;
      }
    } else {
      let inView = 0;
      for (const v of visible) {
        const k = known.get(v.id);
        if (!k) {
          known.set(v.id, { view: v, was: undefined, mark });
          enter[entered++] = v;
          inView++;
          continue;
        }
        if (k.mark === mark) {
          k.view = v; // the same entity twice in one view: the last one counts, as in a map
          continue;
        }
        k.mark = mark;
        k.was = k.view;
        k.view = v;
        inView++;
        if (!sameView(k.was, v)) update[updated++] = v;
      }
      if (known.size > inView) {
        // Some of what it knew is not in view any more.
        for (const [id, k] of known) {
          if (k.mark !== mark) {
            leave[left++] = id;
            known.delete(id);
          }
        }
      }
    }
    // Lengths set once, at the end: `length = 0` first would make V8 drop the arrays' storage.
    out.full = full;
    if (enter.length !== entered) enter.length = entered;
    if (update.length !== updated) update.length = updated;
    if (leave.length !== left) leave.length = left;
    return out;
  }
}

/** Applies a delta to a receiver's copy (what a client does): used by tests and the client. */
export function applyDelta(known: Map<string, EntityView>, delta: Delta): void {
  if (delta.full) known.clear();
  for (const id of delta.leave) known.delete(id);
  for (const v of delta.enter) known.set(v.id, v);
  for (const v of delta.update) known.set(v.id, v);
}
