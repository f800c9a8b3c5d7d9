/**
 * The snapshot's wire format: what one `snapshot` event carries, and the two functions that
 * write and read it. The match encodes each player's delta with `encodeSnapshot`; a client
 * decodes with `decodeSnapshot` and applies the result with `applyDelta` (interest.ts).
 *
 * Measured first (`pnpm bench:game`, README): the JSON deltas of whole entity objects took
 * 34.5 KB per client per second with 100 players, most of it repeated field names, string ids
 * and bullets re-sent every tick. The format below is still the runtime's JSON event, but
 * compact:
 *
 * - **numbers only**: a short numeric id per entity (`wireId`: players 1..127, health packs
 *   128..255, bullets 256 and up), positions and velocities as integers in tenths of a unit,
 *   the aim in hundredths of a radian: exactly the precision of the views (`worldViews`), so
 *   nothing is lost on the way.
 * - **only changed fields**: a known entity's record carries a bit mask and just the fields that
 *   differ from what the receiver had.
 * - **bullets once**: a bullet is sent when it comes into view, with its velocity; the receiver
 *   moves it (`positionAt`). Its leaving is the only other thing said about it.
 * - **the tick's kills ride along**: every player is told every kill (the score table and the kill
 *   feed follow from them, `applyKill` in sim/scores.ts), and every player gets a snapshot every
 *   tick, so the kills go in the snapshot of the tick they happened in as pairs of wire ids
 *   rather than as a `kill` event frame per kill per player. With 100 players those frames were
 *   about 29 a second per client, 70 bytes each on the wire; in the snapshot a kill takes 6 to
 *   8 (11 with the field name, once per frame).
 *
 * ```
 * { "t": tick, "a": ack, "f": 1 (full snapshot, else absent),
 *   "e": [records, flat], "l": [wire ids that left],
 *   "k": [killer, victim, killer, victim, …] }       (e, l and k absent when empty)
 * player      id, mask, [x], [y], [aim], [hp], [state]       mask bits 1 x, 2 y, 4 aim, 8 hp, 16 state
 *                                                             state 0 dead, 1 alive, 2 shielded
 * health pack id, mask, [x], [y], [on 0/1]                    mask bits 1 x, 2 y, 4 on
 * bullet      id, x, y, vx, vy, age                           at tick t - age it was at (x, y)
 * ```
 *
 * An entity the receiver did not know (or any, in a full snapshot) comes with every field; a
 * record that leaves a field out for an entity the receiver does not know is refused. Decoding
 * checks every value and throws `WireError` on a payload it cannot read, so a client reports a
 * broken frame instead of showing a wrong world. The kills (`k`: player wire ids, killer first,
 * in the order they happened) do not depend on what the receiver knows: `decodeKills` reads them
 * alone, so a client whose entity table is out of step (and who drops the frame's entities until
 * a full snapshot) still keeps its score table.
 *
 * A player's state is its `alive` and `shielded` (spawn protection, which only a living player
 * has) in one field: the shield starts with the respawn that already sends the field, and its end
 * costs that one field once, where a mask bit of its own would add a field to every new record.
 *
 * Versions (the format is read only by this module, so client and server change together):
 * 1, the compact records above; 2, `k` added, replacing the `kill` event; 3, a player's state 2
 * (shielded) beside 0 and 1.
 *
 * @example
 * snapshots.update(world);                    // server, once per tick (interest/snapshots.ts)
 * conn.send("snapshot", snapshots.encode(receiver, me.x, me.y, ack));   // per player
 * // the same payload, one player at a time (the reference the encoder is tested against):
 * const delta = tracker.diff(visibleFrom(grid, me.x, me.y));
 * conn.send("snapshot", encodeSnapshot({ t: world.tick, ack, ...delta }, tracker.previous));
 *
 * conn.on("snapshot", (payload) => {            // client
 *   const snapshot = decodeSnapshot(payload, known);
 *   applyDelta(known, snapshot);
 *   for (const kill of snapshot.kills ?? []) table = applyKill(table, kill);
 * });
 */
import type { Delta, EntityView } from "./interest.js";

/** One player killed another (both entity ids). */
export interface Kill {
  killer: string;
  victim: string;
}

/**
 * A decoded snapshot: the tick, the last input `seq` it applied, the changes as views, and the
 * kills of the tick (absent when there were none).
 */
export interface SnapshotEvent extends Delta {
  /** The tick this snapshot shows. */
  t: number;
  /** The last input `seq` of this connection that the tick applied (-1 before the first). */
  ack: number;
  /** The kills since the previous snapshot, in order; absent (or empty) when there were none. */
  kills?: Kill[];
}

/** What the `snapshot` event carries (see the module comment). */
export interface WireSnapshot {
  t: number;
  a: number;
  f?: 1;
  e?: number[];
  l?: number[];
  k?: number[];
}

export class WireError extends Error {
  override name = "WireError";
}

/** Positions and velocities travel in tenths of a unit, the aim in hundredths of a radian. */
const POS = 10;
const AIM = 100;

const P_X = 1;
const P_Y = 2;
const P_AIM = 4;
const P_HP = 8;
/** The player's state: 0 dead, 1 alive, 2 alive and shielded. */
const P_STATE = 16;
const P_ALL = P_X | P_Y | P_AIM | P_HP | P_STATE;
const H_X = 1;
const H_Y = 2;
const H_ON = 4;
const H_ALL = H_X | H_Y | H_ON;

/** Wire ids: players below 128, health packs from 128, bullets from 256. */
const HEALTH_BASE = 128;
const BULLET_BASE = 256;

/**
 * The wire id of an entity id (`p7` → 7, `h2` → 130, `b15` → 271). It runs for every record of
 * every snapshot, so the digits are read in place: slicing the id and turning the number back
 * into a string to check it made three short-lived values per record.
 */
export function wireId(id: string): number {
  const len = id.length;
  // Digits after the kind letter, no leading zero, few enough to stay a safe integer.
  let ok = len >= 2 && len <= 16 && id.charCodeAt(1) !== 48;
  let n = 0;
  for (let i = 1; ok && i < len; i++) {
    const d = id.charCodeAt(i) - 48;
    if (d >= 0 && d <= 9) n = n * 10 + d;
    else ok = false;
  }
  if (ok) {
    switch (id.charCodeAt(0)) {
      case 112: // p
        if (n < HEALTH_BASE) return n;
        break;
      case 104: // h
        if (n < BULLET_BASE - HEALTH_BASE) return HEALTH_BASE + n;
        break;
      case 98: // b
        return BULLET_BASE + n;
    }
  }
  throw new WireError(`entity id ${JSON.stringify(id)} has no wire id`);
}

/** The entity id of a wire id (the inverse of `wireId`). */
export function entityId(n: number): string {
  if (!Number.isSafeInteger(n) || n < 1) throw new WireError(`bad entity id ${n}`);
  if (n < HEALTH_BASE) return `p${n}`;
  if (n < BULLET_BASE) return `h${n - HEALTH_BASE}`;
  return `b${n - BULLET_BASE}`;
}

const q = (v: number, scale: number) => Math.round(v * scale);

/**
 * The payload of one snapshot. `before` is what the receiver knew before this delta (the
 * tracker's `previous` after its `diff`, or a copy of the map a client keeps): updates carry only
 * the fields that differ from it.
 */
export function encodeSnapshot(
  snapshot: SnapshotEvent,
  before: { get(id: string): EntityView | undefined },
): WireSnapshot {
  const out: WireSnapshot = { t: snapshot.t, a: snapshot.ack };
  if (snapshot.full) out.f = 1;
  const e: number[] = [];
  const known = snapshot.full ? undefined : before;
  for (const v of snapshot.enter) writeRecord(e, v, undefined, snapshot.t);
  for (const v of snapshot.update) writeRecord(e, v, known?.get(v.id), snapshot.t);
  if (e.length > 0) out.e = e;
  if (snapshot.leave.length > 0) out.l = snapshot.leave.map(wireId);
  if (snapshot.kills && snapshot.kills.length > 0) out.k = encodeKills(snapshot.kills);
  return out;
}

/**
 * The `k` field of a snapshot: the kills as flat pairs of player wire ids. The match encodes the
 * tick's kills once and puts the same array in every player's snapshot.
 */
export function encodeKills(kills: readonly Kill[]): number[] {
  const k: number[] = [];
  for (const { killer, victim } of kills) k.push(playerWireId(killer), playerWireId(victim));
  return k;
}

function playerWireId(id: string): number {
  const n = wireId(id);
  if (n >= HEALTH_BASE) throw new WireError(`${id} is not a player`);
  return n;
}

/**
 * Appends the record of `v` to `out`: every field when the receiver did not know it (`was`
 * undefined), else the id, the mask and the fields that differ from `was` (see the module
 * comment). `tick` is the snapshot's (a bullet's age is counted from it).
 */
export function writeRecord(
  out: number[],
  v: EntityView,
  was: EntityView | undefined,
  tick: number,
): void {
  const id = wireId(v.id);
  if (v.k === "b") {
    out.push(id, q(v.x, POS), q(v.y, POS), q(v.vx, POS), q(v.vy, POS), tick - v.t);
    return;
  }
  if (v.k === "p") {
    const w = was?.k === "p" ? was : undefined;
    let mask = 0;
    if (!w || w.x !== v.x) mask |= P_X;
    if (!w || w.y !== v.y) mask |= P_Y;
    if (!w || w.a !== v.a) mask |= P_AIM;
    if (!w || w.hp !== v.hp) mask |= P_HP;
    if (!w || w.alive !== v.alive || w.shielded !== v.shielded) mask |= P_STATE;
    out.push(id, mask);
    if (mask & P_X) out.push(q(v.x, POS));
    if (mask & P_Y) out.push(q(v.y, POS));
    if (mask & P_AIM) out.push(q(v.a, AIM));
    if (mask & P_HP) out.push(v.hp);
    if (mask & P_STATE) out.push(v.shielded ? 2 : v.alive ? 1 : 0);
    return;
  }
  const w = was?.k === "h" ? was : undefined;
  let mask = 0;
  if (!w || w.x !== v.x) mask |= H_X;
  if (!w || w.y !== v.y) mask |= H_Y;
  if (!w || w.on !== v.on) mask |= H_ON;
  out.push(id, mask);
  if (mask & H_X) out.push(q(v.x, POS));
  if (mask & H_Y) out.push(q(v.y, POS));
  if (mask & H_ON) out.push(v.on ? 1 : 0);
}

/**
 * Reads one snapshot payload against what the receiver knows (its copy before this snapshot)
 * into whole views: entities it did not know are `enter`, known ones `update`. Does not change
 * `known`; apply the result with `applyDelta`. Throws `WireError` on a payload it cannot read.
 */
export function decodeSnapshot(
  payload: unknown,
  known: ReadonlyMap<string, EntityView>,
): SnapshotEvent {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new WireError("a snapshot is an object");
  }
  const p = payload as Record<string, unknown>;
  const t = int(p.t, "t");
  const ack = int(p.a, "a");
  if (p.f !== undefined && p.f !== 1) throw new WireError("f is 1 or absent");
  const full = p.f === 1;
  const e = numbers(p.e, "e");
  const l = numbers(p.l, "l");
  const kills = readKills(p.k);
  const before = full ? undefined : known;
  const enter: EntityView[] = [];
  const update: EntityView[] = [];
  let i = 0;
  const next = (what: string): number => {
    if (i >= e.length) throw new WireError(`a record ends before its ${what}`);
    return e[i++]!;
  };
  while (i < e.length) {
    const id = entityId(next("id"));
    const was = before?.get(id);
    const view = readRecord(id, was, t, next);
    (was ? update : enter).push(view);
  }
  const out: SnapshotEvent = { t, ack, full, enter, update, leave: l.map(entityId) };
  if (kills.length > 0) out.kills = kills;
  return out;
}

/**
 * Only the kills of a snapshot payload (empty when it has none), read without the entity table:
 * a client applies them even to a frame whose entities it cannot read. Throws `WireError` when
 * the payload or its `k` cannot be read.
 */
export function decodeKills(payload: unknown): Kill[] {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new WireError("a snapshot is an object");
  }
  return readKills((payload as Record<string, unknown>).k);
}

function readKills(v: unknown): Kill[] {
  const k = numbers(v, "k");
  if (k.length % 2 !== 0) throw new WireError("k is pairs of killer and victim");
  const kills: Kill[] = [];
  for (let i = 0; i < k.length; i += 2) {
    const killer = k[i]!;
    const victim = k[i + 1]!;
    if (killer < 1 || killer >= HEALTH_BASE || victim < 1 || victim >= HEALTH_BASE) {
      throw new WireError(`k: a kill is between players, not ${killer} and ${victim}`);
    }
    kills.push({ killer: entityId(killer), victim: entityId(victim) });
  }
  return kills;
}

function readRecord(
  id: string,
  was: EntityView | undefined,
  tick: number,
  next: (what: string) => number,
): EntityView {
  const missing = (field: string): never => {
    throw new WireError(`${id} is new to the receiver but its record has no ${field}`);
  };
  const flag = (v: number, field: string): boolean => {
    if (v !== 0 && v !== 1) throw new WireError(`${id}: ${field} is 0 or 1, not ${v}`);
    return v === 1;
  };
  if (id[0] === "b") {
    const x = next("x") / POS;
    const y = next("y") / POS;
    const vx = next("vx") / POS;
    const vy = next("vy") / POS;
    return { id, k: "b", x, y, vx, vy, t: tick - next("age") };
  }
  const mask = next("mask");
  if (id[0] === "p") {
    if (mask & ~P_ALL) throw new WireError(`${id}: bad field mask ${mask}`);
    const w = was?.k === "p" ? was : undefined;
    const x = mask & P_X ? next("x") / POS : (w?.x ?? missing("x"));
    const y = mask & P_Y ? next("y") / POS : (w?.y ?? missing("y"));
    const a = mask & P_AIM ? next("aim") / AIM : (w?.a ?? missing("aim"));
    const hp = mask & P_HP ? next("hp") : (w?.hp ?? missing("hp"));
    let alive: boolean;
    let shielded: boolean;
    if (mask & P_STATE) {
      const state = next("state");
      if (state !== 0 && state !== 1 && state !== 2) {
        throw new WireError(`${id}: state is 0, 1 or 2, not ${state}`);
      }
      alive = state !== 0;
      shielded = state === 2;
    } else {
      alive = w?.alive ?? missing("state");
      shielded = w?.shielded ?? missing("state");
    }
    return { id, k: "p", x, y, a, hp, alive, shielded };
  }
  if (mask & ~H_ALL) throw new WireError(`${id}: bad field mask ${mask}`);
  const w = was?.k === "h" ? was : undefined;
  return {
    id,
    k: "h",
    x: mask & H_X ? next("x") / POS : (w?.x ?? missing("x")),
    y: mask & H_Y ? next("y") / POS : (w?.y ?? missing("y")),
    on: mask & H_ON ? flag(next("on"), "on") : (w?.on ?? missing("on")),
  };
}

function int(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new WireError(`${field} is an integer`);
  }
  return v;
}

function numbers(v: unknown, field: string): number[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((n) => typeof n === "number" && Number.isSafeInteger(n))) {
    throw new WireError(`${field} is an array of integers`);
  }
  return v as number[];
}
