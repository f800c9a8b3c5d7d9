/**
 * The storage driver conformance suite. Every driver's own test file calls
 * `runDriverConformance` with a factory, so memory, file and Postgres are held to one contract:
 * the one written in `driver.ts`. Named `*.case.test.ts` so Vitest does not collect it on its
 * own (see the `exclude` in vitest.config.ts); it only runs through a driver's test file.
 *
 * Each test gets a fresh driver. When the factory offers `reopen`, the persistence tests close
 * the driver and open the same store again, which is how the file and Postgres drivers prove
 * that what `commit` acknowledged is really stored.
 */
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ActorRecord, CommitBatch, StorageDriver } from "./driver.js";
import { emptyBatch } from "./driver.js";

export interface DriverFixture {
  driver: StorageDriver;
  /** Opens the same store again; the suite closes the current driver first. */
  reopen?: () => Promise<StorageDriver>;
  cleanup: () => Promise<void>;
}

const text = new TextEncoder();
const utf8 = (s: string) => text.encode(s);
const b = (...bytes: number[]) => Uint8Array.from(bytes);
const hex = (v: Uint8Array | null | undefined) =>
  v == null ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex");

let counter = 0;
function record(name: string, key: string[], overrides: Partial<ActorRecord> = {}): ActorRecord {
  counter++;
  return {
    id: `${name}-${counter}-${randomBytes(4).toString("hex")}`,
    name,
    key,
    createdAt: 1_700_000_000_000 + counter,
    data: JSON.stringify({ v: 1, state: { n: counter } }),
    ...overrides,
  };
}

function batch(parts: Partial<CommitBatch>): CommitBatch {
  return { ...emptyBatch(), ...parts };
}

/** Keys chosen to trip any encoding that is not injective or any order that is not bytewise. */
const TRICKY_KEYS: string[][] = [
  ["a/b", "c"],
  ["a", "b/c"],
  ["a,b"],
  ["a", "b"],
  ["a", "b", ""],
  [],
  [""],
  ["", ""],
  ['"'],
  ["\\", '"'],
  ["[]"],
  ['["a"]'],
  ["a\u0000b"],
  ["\u0000"],
  ["ünïcødé", "日本語", "😀"],
  ["e\u0301"], // decomposed é: must not be normalized into the next one
  ["\u00e9"],
  ["x".repeat(1900)],
  ["y".repeat(600), "z".repeat(600), "é".repeat(300)],
];

export function runDriverConformance(name: string, makeDriver: () => Promise<DriverFixture>): void {
  describe(`storage driver conformance: ${name}`, () => {
    let fixture: DriverFixture;
    let driver: StorageDriver;

    beforeEach(async () => {
      fixture = await makeDriver();
      driver = fixture.driver;
    });

    afterEach(async () => {
      await driver.close();
      await fixture.cleanup();
    });

    /** Closes and reopens, or returns false when this driver cannot (memory). */
    async function reopen(): Promise<boolean> {
      if (!fixture.reopen) return false;
      await driver.close();
      driver = await fixture.reopen();
      return true;
    }

    async function createOk(r: ActorRecord): Promise<ActorRecord> {
      expect(await driver.createActor(r)).toBe(true);
      return r;
    }

    it("reports its kind", () => {
      expect(["memory", "file", "postgres", "durable-object"]).toContain(driver.kind);
    });

    describe("actors", () => {
      it("creates an actor once per (name, key) and keeps the first record", async () => {
        const first = await createOk(record("room", ["lobby"], { data: '{"first":true}' }));
        const second = record("room", ["lobby"], { data: '{"first":false}' });
        expect(await driver.createActor(second)).toBe(false);
        expect(await driver.findActorByKey("room", ["lobby"])).toEqual(first);
        expect(await driver.findActorById(first.id)).toEqual(first);
        expect(await driver.findActorById(second.id)).toBeUndefined();
      });

      it("keeps the same key under different names apart", async () => {
        const room = await createOk(record("room", ["k"]));
        const user = await createOk(record("user", ["k"]));
        expect((await driver.findActorByKey("room", ["k"]))?.id).toBe(room.id);
        expect((await driver.findActorByKey("user", ["k"]))?.id).toBe(user.id);
      });

      it("lets exactly one of 20 concurrent creates for one key win", async () => {
        const candidates = Array.from({ length: 20 }, () => record("race", ["same"]));
        const results = await Promise.all(candidates.map((r) => driver.createActor(r)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = candidates[results.indexOf(true)];
        expect(await driver.findActorByKey("race", ["same"])).toEqual(winner);
        for (const r of candidates) {
          if (r !== winner) expect(await driver.findActorById(r.id)).toBeUndefined();
        }
      });

      it("creates many different actors concurrently", async () => {
        const rs = Array.from({ length: 50 }, (_, i) => record("many", [`k${i}`]));
        expect(await Promise.all(rs.map((r) => driver.createActor(r)))).toEqual(rs.map(() => true));
        for (const r of rs) expect(await driver.findActorByKey("many", r.key)).toEqual(r);
      });

      it("keeps keys apart that a naive join or normalization would merge", async () => {
        const rs = TRICKY_KEYS.map((key) => record("tricky", key));
        for (const r of rs) await createOk(r);
        for (const r of rs) {
          const found = await driver.findActorByKey("tricky", r.key);
          expect(found?.id).toBe(r.id);
          expect(found?.key).toEqual(r.key);
          expect(await driver.findActorById(r.id)).toEqual(r);
        }
        // Looking up a key that was never created finds nothing, even if it is "close".
        expect(await driver.findActorByKey("tricky", ["a", "b/c", ""])).toBeUndefined();
        expect(await driver.findActorByKey("tricky", ["a\\/b", "c"])).toBeUndefined();
        expect(await driver.findActorByKey("tricky", ["x".repeat(1899)])).toBeUndefined();
      });

      it("returns undefined for unknown ids and keys", async () => {
        await createOk(record("room", ["a"]));
        expect(await driver.findActorById("no-such-id")).toBeUndefined();
        expect(await driver.findActorByKey("room", ["b"])).toBeUndefined();
        expect(await driver.findActorByKey("nobody", ["a"])).toBeUndefined();
      });

      it("round-trips every record field exactly", async () => {
        const r = await createOk(
          record("room", ["r"], {
            createdAt: 1_234_567_890_123,
            data: JSON.stringify({ s: "line\nbreak \u2028 tab\t 😀 \u0000 \ud800", n: -0.5 }),
          }),
        );
        const found = await driver.findActorById(r.id);
        expect(found).toEqual(r);
        expect(found?.data).toBe(r.data);
      });

      it("returns records the caller may mutate without changing what is stored", async () => {
        const r = await createOk(record("room", ["mut", "able"]));
        const found = (await driver.findActorById(r.id))!;
        found.key.push("extra");
        found.data = "changed";
        const again = await driver.findActorByKey("room", ["mut", "able"]);
        expect(again).toEqual({ ...r, key: ["mut", "able"] });
      });
    });

    describe("commit", () => {
      it("writes state data", async () => {
        const a = await createOk(record("room", ["a"]));
        const c = await createOk(record("room", ["c"]));
        await driver.commit(batch({ states: [{ actorId: a.id, data: '{"v":2}' }] }));
        expect((await driver.findActorById(a.id))?.data).toBe('{"v":2}');
        expect((await driver.findActorByKey("room", ["a"]))?.data).toBe('{"v":2}');
        expect((await driver.findActorById(c.id))?.data).toBe(c.data);
        await driver.commit(batch({ states: [{ actorId: a.id, data: '{"v":3}' }] }));
        expect((await driver.findActorById(a.id))?.data).toBe('{"v":3}');
      });

      it("accepts an empty batch", async () => {
        await driver.commit(emptyBatch());
        expect(await driver.listAlarms()).toEqual([]);
      });

      it("applies every part of a mixed batch", async () => {
        const a = await createOk(record("room", ["a"]));
        const c = await createOk(record("room", ["c"]));
        const gone = await createOk(record("room", ["gone"]));
        await driver.commit(
          batch({
            kvPuts: [
              { actorId: a.id, key: utf8("old"), value: utf8("x") },
              { actorId: gone.id, key: utf8("k"), value: utf8("v") },
            ],
            alarms: [{ actorId: gone.id, at: 50 }],
          }),
        );
        await driver.commit(
          batch({
            states: [
              { actorId: a.id, data: "A2" },
              { actorId: c.id, data: "C2" },
            ],
            kvPuts: [
              { actorId: a.id, key: utf8("k1"), value: utf8("v1") },
              { actorId: c.id, key: utf8("k1"), value: utf8("c1") },
            ],
            kvDeletes: [{ actorId: a.id, key: utf8("old") }],
            alarms: [
              { actorId: a.id, at: 2000 },
              { actorId: c.id, at: 1000 },
            ],
            destroyed: [gone.id],
          }),
        );
        expect((await driver.findActorById(a.id))?.data).toBe("A2");
        expect((await driver.findActorById(c.id))?.data).toBe("C2");
        expect((await driver.kvGet(a.id, [utf8("k1"), utf8("old")])).map(hex)).toEqual([
          hex(utf8("v1")),
          null,
        ]);
        expect((await driver.kvGet(c.id, [utf8("k1")])).map(hex)).toEqual([hex(utf8("c1"))]);
        expect(await driver.findActorById(gone.id)).toBeUndefined();
        expect(await driver.listAlarms()).toEqual([
          { actorId: c.id, at: 1000 },
          { actorId: a.id, at: 2000 },
        ]);
      });

      it("ignores writes addressed to actors that do not exist", async () => {
        const a = await createOk(record("room", ["a"]));
        await driver.commit(
          batch({
            states: [
              { actorId: "ghost", data: "boo" },
              { actorId: a.id, data: "real" },
            ],
            kvPuts: [
              { actorId: "ghost", key: utf8("k"), value: utf8("v") },
              { actorId: a.id, key: utf8("k"), value: utf8("v") },
            ],
            kvDeletes: [{ actorId: "ghost", key: utf8("k") }],
            alarms: [{ actorId: "ghost", at: 5 }],
            destroyed: ["ghost"],
          }),
        );
        expect(await driver.findActorById("ghost")).toBeUndefined();
        expect(await driver.kvGet("ghost", [utf8("k")])).toEqual([null]);
        expect(await driver.kvList("ghost", new Uint8Array())).toEqual([]);
        expect(await driver.listAlarms()).toEqual([]);
        expect((await driver.findActorById(a.id))?.data).toBe("real");
        expect((await driver.kvGet(a.id, [utf8("k")])).map(hex)).toEqual([hex(utf8("v"))]);
      });

      it("applies concurrent commits in call order", async () => {
        const a = await createOk(record("room", ["a"]));
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            driver.commit(
              batch({
                states: [{ actorId: a.id, data: `{"i":${i}}` }],
                kvPuts: [
                  { actorId: a.id, key: utf8("last"), value: b(i) },
                  { actorId: a.id, key: utf8(`k${i}`), value: b(i) },
                ],
                alarms: [{ actorId: a.id, at: 100 + i }],
              }),
            ),
          ),
        );
        expect((await driver.findActorById(a.id))?.data).toBe('{"i":9}');
        expect((await driver.kvGet(a.id, [utf8("last")])).map(hex)).toEqual(["09"]);
        expect(await driver.kvList(a.id, utf8("k"))).toHaveLength(10);
        expect(await driver.listAlarms()).toEqual([{ actorId: a.id, at: 109 }]);
      });

      it("writes many actors in one batch", async () => {
        const rs = Array.from({ length: 300 }, (_, i) => record("bulk", [`${i}`]));
        for (const r of rs) await createOk(r);
        await driver.commit(
          batch({
            states: rs.map((r, i) => ({ actorId: r.id, data: `{"i":${i}}` })),
            kvPuts: rs.flatMap((r, i) => [
              { actorId: r.id, key: utf8("a"), value: utf8(`a${i}`) },
              { actorId: r.id, key: utf8("b"), value: utf8(`b${i}`) },
            ]),
            alarms: rs.map((r, i) => ({ actorId: r.id, at: 10_000 - i })),
          }),
        );
        for (const [i, r] of rs.entries()) {
          expect((await driver.findActorById(r.id))?.data).toBe(`{"i":${i}}`);
          const list = await driver.kvList(r.id, new Uint8Array());
          expect(list.map((e) => Buffer.from(e.value).toString())).toEqual([`a${i}`, `b${i}`]);
        }
        const alarms = await driver.listAlarms();
        expect(alarms).toHaveLength(300);
        expect(alarms[0]).toEqual({ actorId: rs[299].id, at: 10_000 - 299 });
        expect(alarms[299]).toEqual({ actorId: rs[0].id, at: 10_000 });
      });
    });

    describe("destroy", () => {
      it("removes the record, KV entries and alarm, and frees the key", async () => {
        const a = await createOk(record("room", ["doomed"]));
        const other = await createOk(record("room", ["other"]));
        await driver.commit(
          batch({
            kvPuts: [
              { actorId: a.id, key: utf8("k"), value: utf8("v") },
              { actorId: other.id, key: utf8("k"), value: utf8("keep") },
            ],
            alarms: [
              { actorId: a.id, at: 10 },
              { actorId: other.id, at: 20 },
            ],
          }),
        );
        await driver.commit(batch({ destroyed: [a.id] }));

        expect(await driver.findActorById(a.id)).toBeUndefined();
        expect(await driver.findActorByKey("room", ["doomed"])).toBeUndefined();
        expect(await driver.kvGet(a.id, [utf8("k")])).toEqual([null]);
        expect(await driver.kvList(a.id, new Uint8Array())).toEqual([]);
        expect(await driver.listAlarms()).toEqual([{ actorId: other.id, at: 20 }]);
        expect((await driver.kvGet(other.id, [utf8("k")])).map(hex)).toEqual([hex(utf8("keep"))]);

        const reborn = await createOk(record("room", ["doomed"]));
        expect(reborn.id).not.toBe(a.id);
        expect(await driver.findActorByKey("room", ["doomed"])).toEqual(reborn);
        expect(await driver.kvGet(reborn.id, [utf8("k")])).toEqual([null]);
        expect(await driver.findActorById(a.id)).toBeUndefined();
      });
    });

    describe("kv", () => {
      it("gets values in request order with null for absent keys", async () => {
        const a = await createOk(record("kv", ["a"]));
        await driver.commit(
          batch({
            kvPuts: [
              { actorId: a.id, key: utf8("one"), value: utf8("1") },
              { actorId: a.id, key: utf8("two"), value: utf8("2") },
              { actorId: a.id, key: utf8("three"), value: utf8("3") },
            ],
          }),
        );
        const got = await driver.kvGet(a.id, [
          utf8("three"),
          utf8("missing"),
          utf8("one"),
          utf8("one"),
          utf8("tw"),
          utf8("two"),
        ]);
        expect(got.map(hex)).toEqual([
          hex(utf8("3")),
          null,
          hex(utf8("1")),
          hex(utf8("1")),
          null,
          hex(utf8("2")),
        ]);
        expect(await driver.kvGet(a.id, [])).toEqual([]);
        for (const v of got) if (v) expect(v).toBeInstanceOf(Uint8Array);
      });

      it("overwrites and deletes, tolerating deletes of absent keys", async () => {
        const a = await createOk(record("kv", ["a"]));
        await driver.commit(
          batch({ kvPuts: [{ actorId: a.id, key: utf8("k"), value: utf8("1") }] }),
        );
        await driver.commit(
          batch({ kvPuts: [{ actorId: a.id, key: utf8("k"), value: utf8("2") }] }),
        );
        expect((await driver.kvGet(a.id, [utf8("k")])).map(hex)).toEqual([hex(utf8("2"))]);
        await driver.commit(
          batch({
            kvDeletes: [
              { actorId: a.id, key: utf8("k") },
              { actorId: a.id, key: utf8("never") },
            ],
          }),
        );
        expect(await driver.kvGet(a.id, [utf8("k")])).toEqual([null]);
        expect(await driver.kvList(a.id, new Uint8Array())).toEqual([]);
      });

      it("stores empty keys and empty values, distinct from absent ones", async () => {
        const a = await createOk(record("kv", ["a"]));
        await driver.commit(
          batch({
            kvPuts: [
              { actorId: a.id, key: new Uint8Array(), value: utf8("empty key") },
              { actorId: a.id, key: utf8("e"), value: new Uint8Array() },
            ],
          }),
        );
        const [ek, ev, none] = await driver.kvGet(a.id, [new Uint8Array(), utf8("e"), utf8("x")]);
        expect(hex(ek)).toBe(hex(utf8("empty key")));
        expect(ev).not.toBeNull();
        expect(ev?.byteLength).toBe(0);
        expect(none).toBeNull();
        const list = await driver.kvList(a.id, new Uint8Array());
        expect(list.map((e) => [hex(e.key), hex(e.value)])).toEqual([
          ["", hex(utf8("empty key"))],
          [hex(utf8("e")), ""],
        ]);
      });

      it("round-trips every byte value exactly", async () => {
        const a = await createOk(record("kv", ["a"]));
        const all = Uint8Array.from({ length: 256 }, (_, i) => i);
        const reversed = all.slice().reverse();
        await driver.commit(batch({ kvPuts: [{ actorId: a.id, key: all, value: reversed }] }));
        expect((await driver.kvGet(a.id, [all])).map(hex)).toEqual([hex(reversed)]);
        const [entry] = await driver.kvList(a.id, b(0, 1, 2));
        expect(hex(entry.key)).toBe(hex(all));
        expect(hex(entry.value)).toBe(hex(reversed));
      });

      it("keeps each actor's KV separate", async () => {
        const a = await createOk(record("kv", ["a"]));
        const c = await createOk(record("kv", ["c"]));
        await driver.commit(
          batch({
            kvPuts: [
              { actorId: a.id, key: utf8("k"), value: utf8("a") },
              { actorId: c.id, key: utf8("k"), value: utf8("c") },
              { actorId: c.id, key: utf8("k2"), value: utf8("c2") },
            ],
          }),
        );
        expect((await driver.kvGet(a.id, [utf8("k"), utf8("k2")])).map(hex)).toEqual([
          hex(utf8("a")),
          null,
        ]);
        expect(await driver.kvList(a.id, utf8("k"))).toHaveLength(1);
        expect(await driver.kvList(c.id, utf8("k"))).toHaveLength(2);
      });

      describe("list", () => {
        // In unsigned byte order. Includes 0x00 and 0xff bytes and keys that are prefixes of others.
        const SORTED = [
          b(),
          b(0x00),
          b(0x00, 0x00),
          b(0x00, 0xff),
          b(0x01),
          b(0x01, 0x00),
          b(0x01, 0x7f),
          b(0x01, 0x80),
          b(0x01, 0xff),
          b(0x01, 0xff, 0xff),
          b(0x02),
          b(0x7f),
          b(0x7f, 0xff),
          b(0x80),
          b(0xfe, 0xff),
          b(0xff),
          b(0xff, 0x00),
          b(0xff, 0xff),
          b(0xff, 0xff, 0x01),
          b(0xff, 0xff, 0xff),
          b(0xff, 0xff, 0xff, 0xff),
        ];
        const WORDS = ["user:1", "user:1:name", "user:10", "user:10:x", "user:2", "user;", "users"];

        let actorId: string;
        beforeEach(async () => {
          const a = await createOk(record("kv", ["list"]));
          const neighbour = await createOk(record("kv", ["neighbour"]));
          actorId = a.id;
          // Insert in a scrambled order so no driver can pass by remembering insertion order.
          const keys = [...SORTED.map(hex), ...WORDS.map((w) => hex(utf8(w)))] as string[];
          keys.sort((x, y) => (hashOf(x) < hashOf(y) ? -1 : 1));
          await driver.commit(
            batch({
              kvPuts: [
                ...keys.map((k) => ({
                  actorId,
                  key: Buffer.from(k, "hex"),
                  value: utf8(`v:${k}`),
                })),
                { actorId: neighbour.id, key: b(0x01), value: utf8("other actor") },
                { actorId: neighbour.id, key: utf8("user:1"), value: utf8("other actor") },
              ],
            }),
          );
        });

        const listHex = async (prefix: Uint8Array, opts?: { limit?: number; reverse?: boolean }) =>
          (await driver.kvList(actorId, prefix, opts)).map((e) => {
            expect(Buffer.from(e.value).toString()).toBe(`v:${hex(e.key)}`);
            return hex(e.key);
          });

        it("lists everything in unsigned byte order for an empty prefix", async () => {
          const all = await listHex(new Uint8Array());
          const expected = [...SORTED, ...WORDS.map(utf8)]
            .map((k) => Buffer.from(k))
            .sort(Buffer.compare)
            .map((k) => k.toString("hex"));
          expect(all).toEqual(expected);
          expect(all.slice(0, 5)).toEqual(["", "00", "0000", "00ff", "01"]);
          expect(all.at(-1)).toBe("ffffffff");
        });

        it("matches by byte prefix, including 0x00 and 0xff", async () => {
          expect(await listHex(b(0x00))).toEqual(["00", "0000", "00ff"]);
          expect(await listHex(b(0x01))).toEqual(["01", "0100", "017f", "0180", "01ff", "01ffff"]);
          expect(await listHex(b(0x01, 0xff))).toEqual(["01ff", "01ffff"]);
          expect(await listHex(b(0x7f))).toEqual(["7f", "7fff"]);
          expect(await listHex(b(0xff))).toEqual([
            "ff",
            "ff00",
            "ffff",
            "ffff01",
            "ffffff",
            "ffffffff",
          ]);
          expect(await listHex(b(0xff, 0xff))).toEqual(["ffff", "ffff01", "ffffff", "ffffffff"]);
          expect(await listHex(b(0xff, 0xff, 0xff))).toEqual(["ffffff", "ffffffff"]);
          expect(await listHex(b(0xff, 0xff, 0xff, 0xff, 0xff))).toEqual([]);
          expect(await listHex(b(0xfe))).toEqual(["feff"]);
          expect(await listHex(b(0x03))).toEqual([]);
        });

        it("treats prefixes as bytes, not as path segments", async () => {
          const words = async (p: string) =>
            (await listHex(utf8(p))).map((h) => Buffer.from(h!, "hex").toString());
          // "0" (0x30) sorts before ":" (0x3a): byte order, not segment order.
          expect(await words("user:1")).toEqual(["user:1", "user:10", "user:10:x", "user:1:name"]);
          expect(await words("user:1:")).toEqual(["user:1:name"]);
          expect(await words("user:10")).toEqual(["user:10", "user:10:x"]);
          expect(await words("user")).toEqual([
            "user:1",
            "user:10",
            "user:10:x",
            "user:1:name",
            "user:2",
            "user;",
            "users",
          ]);
          expect(await words("user:")).toHaveLength(5);
          expect(await words("users")).toEqual(["users"]);
          expect(await words("usersx")).toEqual([]);
        });

        it("honours limit and reverse", async () => {
          expect(await listHex(b(0x01), { limit: 2 })).toEqual(["01", "0100"]);
          expect(await listHex(b(0x01), { reverse: true })).toEqual([
            "01ffff",
            "01ff",
            "0180",
            "017f",
            "0100",
            "01",
          ]);
          expect(await listHex(b(0x01), { reverse: true, limit: 2 })).toEqual(["01ffff", "01ff"]);
          expect(await listHex(b(0xff), { reverse: true, limit: 3 })).toEqual([
            "ffffffff",
            "ffffff",
            "ffff01",
          ]);
          expect(await listHex(b(0x01), { limit: 100 })).toHaveLength(6);
          expect(await listHex(b(0x01), { limit: 0 })).toEqual([]);
          const all = await listHex(new Uint8Array());
          expect(await listHex(new Uint8Array(), { reverse: true })).toEqual([...all].reverse());
          expect(await listHex(new Uint8Array(), { reverse: true, limit: 1 })).toEqual([
            "ffffffff",
          ]);
          expect(await listHex(new Uint8Array(), { limit: 1 })).toEqual([""]);
        });

        it("reflects later puts and deletes", async () => {
          await driver.commit(
            batch({
              kvPuts: [{ actorId, key: b(0x01, 0x50), value: utf8("v:0150") }],
              kvDeletes: [
                { actorId, key: b(0x01, 0x00) },
                { actorId, key: b(0x01, 0xff, 0xff) },
              ],
            }),
          );
          expect(await listHex(b(0x01))).toEqual(["01", "0150", "017f", "0180", "01ff"]);
          expect(await listHex(b(0x01), { reverse: true, limit: 2 })).toEqual(["01ff", "0180"]);
        });
      });

      it("copies bytes: neither passed nor returned buffers alias stored data", async () => {
        const a = await createOk(record("kv", ["a"]));
        const key = utf8("key");
        const value = utf8("value");
        // A value that is a view into a larger buffer must store only the view's bytes.
        const backing = utf8("xxSLICExx");
        const slice = backing.subarray(2, 7);
        await driver.commit(
          batch({
            kvPuts: [
              { actorId: a.id, key, value },
              { actorId: a.id, key: backing.subarray(0, 2), value: slice },
            ],
          }),
        );
        key.fill(0);
        value.fill(0);
        backing.fill(0);
        expect((await driver.kvGet(a.id, [utf8("key")])).map(hex)).toEqual([hex(utf8("value"))]);
        expect((await driver.kvGet(a.id, [utf8("xx")])).map(hex)).toEqual([hex(utf8("SLICE"))]);

        const [got] = await driver.kvGet(a.id, [utf8("key")]);
        got!.fill(1);
        const [listed] = await driver.kvList(a.id, utf8("key"));
        expect(hex(listed.value)).toBe(hex(utf8("value")));
        listed.key.fill(1);
        listed.value.fill(1);
        expect((await driver.kvGet(a.id, [utf8("key")])).map(hex)).toEqual([hex(utf8("value"))]);
        expect((await driver.kvList(a.id, utf8("key"))).map((e) => hex(e.key))).toEqual([
          hex(utf8("key")),
        ]);
      });

      it("stores 1 MiB values and large state", async () => {
        const a = await createOk(record("kv", ["big"]));
        const big = new Uint8Array(randomBytes(1024 * 1024));
        const big2 = new Uint8Array(randomBytes(1024 * 1024 + 7));
        const data = JSON.stringify({ blob: "é".repeat(600_000) });
        await driver.commit(
          batch({
            states: [{ actorId: a.id, data }],
            kvPuts: [
              { actorId: a.id, key: utf8("big"), value: big },
              { actorId: a.id, key: utf8("big2"), value: big2 },
              { actorId: a.id, key: utf8("small"), value: utf8("s") },
            ],
          }),
        );
        const [v, v2, s] = await driver.kvGet(a.id, [utf8("big"), utf8("big2"), utf8("small")]);
        expect(Buffer.compare(v!, big)).toBe(0);
        expect(Buffer.compare(v2!, big2)).toBe(0);
        expect(hex(s)).toBe(hex(utf8("s")));
        const listed = await driver.kvList(a.id, utf8("big"));
        expect(listed.map((e) => e.value.byteLength)).toEqual([big.byteLength, big2.byteLength]);
        expect(Buffer.compare(listed[1].value, big2)).toBe(0);
        expect((await driver.findActorById(a.id))?.data).toBe(data);
        // Overwrite a large value with a small one and back.
        await driver.commit(batch({ kvPuts: [{ actorId: a.id, key: utf8("big"), value: b(1) }] }));
        expect((await driver.kvGet(a.id, [utf8("big")])).map(hex)).toEqual(["01"]);
      });
    });

    describe("alarms", () => {
      it("lists alarms soonest first, updates them and clears them with null", async () => {
        const rs = await Promise.all(
          ["a", "b", "c", "d"].map((k) => createOk(record("alarm", [k]))),
        );
        const [a, bb, c, d] = rs;
        const t = 1_800_000_000_000;
        await driver.commit(
          batch({
            alarms: [
              { actorId: a.id, at: t + 300 },
              { actorId: bb.id, at: t + 100 },
              { actorId: c.id, at: t + 200 },
            ],
          }),
        );
        expect(await driver.listAlarms()).toEqual([
          { actorId: bb.id, at: t + 100 },
          { actorId: c.id, at: t + 200 },
          { actorId: a.id, at: t + 300 },
        ]);
        await driver.commit(
          batch({
            alarms: [
              { actorId: bb.id, at: null },
              { actorId: a.id, at: t + 50 },
              { actorId: d.id, at: null },
            ],
          }),
        );
        expect(await driver.listAlarms()).toEqual([
          { actorId: a.id, at: t + 50 },
          { actorId: c.id, at: t + 200 },
        ]);
        // State writes without an alarm entry leave the alarm alone.
        await driver.commit(batch({ states: [{ actorId: c.id, data: "x" }] }));
        expect(await driver.listAlarms()).toHaveLength(2);
      });
    });

    describe("persistence", () => {
      it("keeps everything committed across close and reopen", async (ctx) => {
        if (!fixture.reopen) ctx.skip();
        const keep = await createOk(record("p", ["keep"], { data: '{"n":0}' }));
        const gone = await createOk(record("p", ["gone"]));
        const tricky = TRICKY_KEYS.map((key) => record("p-tricky", key));
        for (const r of tricky) await createOk(r);
        const big = new Uint8Array(randomBytes(1024 * 1024));
        const bigData = JSON.stringify({ blob: "ü".repeat(100_000) });
        await driver.commit(
          batch({
            states: [{ actorId: keep.id, data: '{"n":1}' }],
            kvPuts: [
              { actorId: keep.id, key: utf8("a"), value: utf8("1") },
              { actorId: keep.id, key: utf8("b"), value: utf8("2") },
              { actorId: keep.id, key: b(0xff, 0x00), value: new Uint8Array() },
              { actorId: keep.id, key: utf8("big"), value: big },
              { actorId: gone.id, key: utf8("a"), value: utf8("x") },
            ],
            alarms: [
              { actorId: keep.id, at: 5000 },
              { actorId: gone.id, at: 10 },
              { actorId: tricky[0].id, at: 7000 },
            ],
          }),
        );
        await driver.commit(
          batch({
            states: [
              { actorId: keep.id, data: '{"n":2}' },
              { actorId: tricky[1].id, data: bigData },
            ],
            kvDeletes: [{ actorId: keep.id, key: utf8("b") }],
            alarms: [{ actorId: tricky[0].id, at: null }],
            destroyed: [gone.id],
          }),
        );
        const reborn = await createOk(record("p", ["gone"]));

        expect(await reopen()).toBe(true);

        expect(await driver.findActorByKey("p", ["keep"])).toEqual({ ...keep, data: '{"n":2}' });
        expect(await driver.findActorById(gone.id)).toBeUndefined();
        expect(await driver.findActorByKey("p", ["gone"])).toEqual(reborn);
        expect(await driver.kvGet(gone.id, [utf8("a")])).toEqual([null]);
        for (const [i, r] of tricky.entries()) {
          const expected = i === 1 ? { ...r, data: bigData } : r;
          expect(await driver.findActorByKey("p-tricky", r.key)).toEqual(expected);
        }
        const list = await driver.kvList(keep.id, new Uint8Array());
        expect(list.map((e) => hex(e.key))).toEqual([hex(utf8("a")), hex(utf8("big")), "ff00"]);
        expect(Buffer.compare(list[1].value, big)).toBe(0);
        expect(list[2].value.byteLength).toBe(0);
        expect(await driver.listAlarms()).toEqual([{ actorId: keep.id, at: 5000 }]);
        // Creating an existing key still fails after reopen.
        expect(await driver.createActor(record("p", ["keep"]))).toBe(false);

        // Writes after a reopen land, and survive another one.
        await driver.commit(
          batch({
            states: [{ actorId: keep.id, data: '{"n":3}' }],
            kvPuts: [{ actorId: reborn.id, key: utf8("new"), value: utf8("life") }],
          }),
        );
        expect(await reopen()).toBe(true);
        expect((await driver.findActorById(keep.id))?.data).toBe('{"n":3}');
        expect((await driver.kvGet(reborn.id, [utf8("new")])).map(hex)).toEqual([
          hex(utf8("life")),
        ]);
        expect((await driver.kvGet(keep.id, [utf8("big")]))[0]?.byteLength).toBe(big.byteLength);
      });

      it("keeps many actors in one batch across reopen", async (ctx) => {
        if (!fixture.reopen) ctx.skip();
        const rs = Array.from({ length: 200 }, (_, i) => record("bulk", [`${i}`]));
        await Promise.all(rs.map((r) => createOk(r)));
        await driver.commit(
          batch({
            states: rs.map((r, i) => ({ actorId: r.id, data: `s${i}` })),
            kvPuts: rs.map((r, i) => ({ actorId: r.id, key: b(i % 256), value: utf8(`${i}`) })),
            alarms: rs.map((r, i) => ({ actorId: r.id, at: 1000 + i })),
          }),
        );
        await reopen();
        for (const [i, r] of rs.entries()) {
          expect(await driver.findActorByKey("bulk", [`${i}`])).toEqual({ ...r, data: `s${i}` });
          expect((await driver.kvGet(r.id, [b(i % 256)])).map(hex)).toEqual([hex(utf8(`${i}`))]);
        }
        expect((await driver.listAlarms()).map((a) => a.at)).toEqual(rs.map((_, i) => 1000 + i));
      });
    });
  });
}

/** A cheap deterministic scramble for insertion order. */
function hashOf(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}
