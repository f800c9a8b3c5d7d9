import { describe, expect, it } from "vitest";
import type { EntityView } from "./interest.js";
import {
  decodeKills,
  decodeSnapshot,
  encodeKills,
  encodeSnapshot,
  entityId,
  type SnapshotEvent,
  WireError,
  wireId,
} from "./wire.js";

const ada: EntityView = {
  id: "p1",
  k: "p",
  x: 120.5,
  y: 88.1,
  a: -1.57,
  hp: 75,
  alive: true,
  shielded: false,
};
const pack: EntityView = { id: "h3", k: "h", x: 800, y: 420, on: true };
const shot: EntityView = { id: "b912", k: "b", x: 140.3, y: 90.7, vx: 44.9, vy: -2.3, t: 97 };

/** Encode, through JSON as on the socket, decode against `known`. */
function roundTrip(s: SnapshotEvent, known: ReadonlyMap<string, EntityView>) {
  const payload = JSON.parse(JSON.stringify(encodeSnapshot(s, known)));
  return { payload, decoded: decodeSnapshot(payload, known) };
}

describe("wire ids", () => {
  it("map players, health packs and bullets to distinct numbers and back", () => {
    const ids = ["p1", "p100", "p127", "h1", "h4", "h127", "b1", "b99999"];
    const nums = ids.map(wireId);
    expect(new Set(nums).size).toBe(ids.length);
    expect(nums.map(entityId)).toEqual(ids);
    const bad = ["p128", "h128", "x1", "p0", "p01", "p", "b-1", "p1.5", "p1e1", "p 1", "P1", ""];
    for (const id of [...bad, `b${"9".repeat(16)}`])
      expect(() => wireId(id), id).toThrow(WireError);
    for (const bad of ["h0", "b0", "b00"]) {
      expect(() => wireId(bad)).toThrow(WireError);
    }
  });
});

describe("encodeSnapshot / decodeSnapshot", () => {
  it("give back the delta, for entering entities of every kind", () => {
    const s: SnapshotEvent = {
      t: 100,
      ack: 7,
      full: true,
      enter: [ada, pack, shot],
      update: [],
      leave: [],
    };
    const { payload, decoded } = roundTrip(s, new Map());
    expect(decoded).toEqual(s);
    expect(payload).toEqual({
      t: 100,
      a: 7,
      f: 1,
      e: [1, 31, 1205, 881, -157, 75, 1, 131, 7, 8000, 4200, 1, 1168, 1403, 907, 449, -23, 3],
    });
  });

  it("send only the fields that changed, and fill the rest from what the receiver knew", () => {
    const known = new Map<string, EntityView>([
      [ada.id, ada],
      [pack.id, pack],
    ]);
    const moved: EntityView = { ...ada, x: 131.5 };
    const taken: EntityView = { ...pack, on: false };
    const s: SnapshotEvent = {
      t: 101,
      ack: 8,
      full: false,
      enter: [],
      update: [moved, taken],
      leave: ["b5"],
    };
    const { payload, decoded } = roundTrip(s, known);
    expect(payload).toEqual({ t: 101, a: 8, e: [1, 1, 1315, 131, 4, 0], l: [261] });
    expect(decoded).toEqual(s);
  });

  it("carry spawn protection as the player's state 2, sent only when it changes", () => {
    const spawned: EntityView = { ...ada, hp: 100, shielded: true };
    const entered = roundTrip(
      { t: 200, ack: 3, full: false, enter: [spawned], update: [], leave: [] },
      new Map(),
    );
    expect(entered.payload.e).toEqual([1, 31, 1205, 881, -157, 100, 2]);
    expect(entered.decoded.enter).toEqual([spawned]);
    // Moving while shielded: the state is not sent again, and the receiver keeps it.
    const known = new Map<string, EntityView>([[ada.id, spawned]]);
    const walked: EntityView = { ...spawned, x: 131.5 };
    const moved = roundTrip(
      { t: 201, ack: 4, full: false, enter: [], update: [walked], leave: [] },
      known,
    );
    expect(moved.payload.e).toEqual([1, 1, 1315]);
    expect(moved.decoded.update).toEqual([walked]);
    // The shield ends (it fired, or its time is up): the state field alone, 1.
    const exposed: EntityView = { ...spawned, shielded: false };
    const ended = roundTrip(
      { t: 230, ack: 30, full: false, enter: [], update: [exposed], leave: [] },
      known,
    );
    expect(ended.payload.e).toEqual([1, 16, 1]);
    expect(ended.decoded.update).toEqual([exposed]);
    // Dead: state 0, and neither alive nor shielded.
    const dead: EntityView = { ...ada, hp: 0, alive: false };
    const died = roundTrip(
      { t: 240, ack: 31, full: false, enter: [], update: [dead], leave: [] },
      new Map([[ada.id, ada]]),
    );
    expect(died.payload.e).toEqual([1, 24, 0, 0]);
    expect(died.decoded.update).toEqual([dead]);
  });

  it("write an empty delta as the tick and the ack alone", () => {
    const s: SnapshotEvent = { t: 5, ack: -1, full: false, enter: [], update: [], leave: [] };
    const { payload, decoded } = roundTrip(s, new Map());
    expect(payload).toEqual({ t: 5, a: -1 });
    expect(decoded).toEqual(s);
  });

  it("sends every field in a full snapshot, even of entities the receiver had", () => {
    const known = new Map<string, EntityView>([[ada.id, ada]]);
    const s: SnapshotEvent = { t: 9, ack: 1, full: true, enter: [ada], update: [], leave: [] };
    const { payload, decoded } = roundTrip(s, known);
    expect(payload.e).toEqual([1, 31, 1205, 881, -157, 75, 1]);
    expect(decoded.enter).toEqual([ada]);
  });

  it("refuses payloads it cannot read, with what is wrong", () => {
    const none = new Map<string, EntityView>();
    const cases: [unknown, RegExp][] = [
      [null, /object/],
      [[1, 2], /object/],
      [{ a: 1 }, /t is an integer/],
      [{ t: 1, a: 1.5 }, /a is an integer/],
      [{ t: 1, a: 1, f: true }, /f is 1/],
      [{ t: 1, a: 1, e: "1,31" }, /e is an array/],
      [{ t: 1, a: 1, e: [1, 31, 5] }, /ends before its y/],
      [{ t: 1, a: 1, e: [1, 1, 50] }, /p1 is new to the receiver but its record has no y/],
      [{ t: 1, a: 1, e: [1, 64] }, /bad field mask/],
      [{ t: 1, a: 1, e: [1, 31, 1, 1, 1, 1, 3] }, /state is 0, 1 or 2, not 3/],
      [{ t: 1, a: 1, e: [1, 31, 1, 1, 1, 1, -1] }, /state is 0, 1 or 2/],
      [
        { t: 1, a: 1, e: [1, 15, 1, 1, 1, 1] },
        /p1 is new to the receiver but its record has no state/,
      ],
      [{ t: 1, a: 1, e: [0] }, /bad entity id/],
      [{ t: 1, a: 1, l: [1, -4] }, /bad entity id/],
    ];
    for (const [payload, message] of cases) {
      expect(() => decodeSnapshot(payload, none), JSON.stringify(payload)).toThrow(message);
    }
  });

  it("carry the tick's kills as pairs of player wire ids, in order", () => {
    const kills = [
      { killer: "p3", victim: "p12" },
      { killer: "p12", victim: "p100" },
    ];
    const s: SnapshotEvent = {
      t: 40,
      ack: 2,
      full: false,
      enter: [],
      update: [],
      leave: [],
      kills,
    };
    const { payload, decoded } = roundTrip(s, new Map());
    expect(payload).toEqual({ t: 40, a: 2, k: [3, 12, 12, 100] });
    expect(decoded).toEqual(s);
    expect(encodeKills(kills)).toEqual([3, 12, 12, 100]);
    // Read alone, without the entity table: from a payload whose records this receiver
    // cannot read (p1 is new to it and has only its x).
    const broken = { t: 41, a: 3, e: [1, 1, 50], k: [3, 12] };
    expect(() => decodeSnapshot(broken, new Map())).toThrow(WireError);
    expect(decodeKills(broken)).toEqual([{ killer: "p3", victim: "p12" }]);
    expect(decodeKills({ t: 42, a: 3 })).toEqual([]);
    expect(() => encodeKills([{ killer: "p1", victim: "h2" }])).toThrow(/not a player/);
  });

  it("refuses kills it cannot read", () => {
    const cases: [unknown, RegExp][] = [
      [[3, 12], /object/],
      [{ t: 1, a: 1, k: 3 }, /k is an array/],
      [{ t: 1, a: 1, k: [3, 12, 5] }, /pairs/],
      [{ t: 1, a: 1, k: [3, 130] }, /between players/],
      [{ t: 1, a: 1, k: [0, 4] }, /between players/],
    ];
    for (const [payload, message] of cases) {
      expect(() => decodeKills(payload), JSON.stringify(payload)).toThrow(message);
      expect(() => decodeSnapshot(payload, new Map()), JSON.stringify(payload)).toThrow(message);
    }
  });

  it("is several times smaller than the same delta as JSON objects", () => {
    const players = Array.from(
      { length: 30 },
      (_, i): EntityView => ({
        id: `p${i + 1}`,
        k: "p",
        x: 100 + i * 37.3,
        y: 900 - i * 21.9,
        a: (i % 6) - 3.14,
        hp: 100,
        alive: true,
        shielded: false,
      }),
    );
    const known = new Map(players.map((p) => [p.id, p]));
    const moved = players.map((p) => (p.k === "p" ? { ...p, x: p.x + 11, y: p.y - 4.5 } : p));
    const s: SnapshotEvent = {
      t: 1500,
      ack: 1400,
      full: false,
      enter: [],
      update: moved,
      leave: [],
    };
    const objects = JSON.stringify(s).length;
    const compact = JSON.stringify(encodeSnapshot(s, known)).length;
    expect(compact * 4).toBeLessThan(objects);
  });
});
