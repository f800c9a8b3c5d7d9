// WriteGroup with a stand-in for the database: batches handed in together share a write, a
// write in flight gathers the next group, a refused row fails only its own caller, and an
// unreachable database fails everyone (who retry with their backoff).
import { describe, expect, it } from "vitest";
import { isDataError, WriteGroup } from "./outbox.js";

interface Row {
  id: string;
  bad?: boolean;
}

/** A "database" that records each write and refuses any batch holding a bad row. */
function fakeDb(opts: { down?: boolean } = {}) {
  const writes: string[][] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const writeAll = async (batch: readonly Row[]) => {
    writes.push(batch.map((r) => r.id));
    if (hold) await new Promise<void>((r) => (release = r));
    if (opts.down) throw new Error("timeout exceeded when trying to connect");
    if (batch.some((r) => r.bad)) {
      throw Object.assign(new Error("invalid input syntax"), { code: "22P02" });
    }
  };
  return {
    writes,
    writeAll,
    holdNext: () => {
      hold = true;
    },
    release: () => {
      hold = false;
      release?.();
    },
  };
}

const settle = (p: Promise<void>) =>
  p.then(
    () => "ok",
    (err: Error) => err.message,
  );

describe("WriteGroup", () => {
  it("writes the batches handed in during one turn in one write", async () => {
    const db = fakeDb();
    const group = new WriteGroup(db.writeAll);
    const results = await Promise.all([
      settle(group.write([{ id: "a1" }, { id: "a2" }])),
      settle(group.write([{ id: "b1" }])),
      settle(group.write([{ id: "c1" }])),
    ]);
    expect(results).toEqual(["ok", "ok", "ok"]);
    expect(db.writes).toEqual([["a1", "a2", "b1", "c1"]]);
  });

  it("gathers what arrives while a write is in flight into the next one", async () => {
    const db = fakeDb();
    db.holdNext();
    const group = new WriteGroup(db.writeAll);
    const first = settle(group.write([{ id: "a" }]));
    while (db.writes.length === 0) await new Promise((r) => setImmediate(r));
    const later = [
      settle(group.write([{ id: "b" }])),
      settle(group.write([{ id: "c" }])),
      settle(group.write([{ id: "d" }])),
    ];
    db.release();
    expect(await first).toBe("ok");
    expect(await Promise.all(later)).toEqual(["ok", "ok", "ok"]);
    expect(db.writes).toEqual([["a"], ["b", "c", "d"]]);
  });

  it("keeps a group under maxEntries (a lone batch over it still goes)", async () => {
    const db = fakeDb();
    const group = new WriteGroup(db.writeAll, { maxEntries: 3 });
    await Promise.all([
      group.write([{ id: "a1" }, { id: "a2" }]),
      group.write([{ id: "b1" }, { id: "b2" }]),
      group.write([{ id: "c1" }, { id: "c2" }, { id: "c3" }, { id: "c4" }]),
    ]);
    expect(db.writes).toEqual([
      ["a1", "a2"],
      ["b1", "b2"],
      ["c1", "c2", "c3", "c4"],
    ]);
  });

  it("a row the database refuses fails only the batch that holds it", async () => {
    const db = fakeDb();
    const group = new WriteGroup(db.writeAll);
    const results = await Promise.all([
      settle(group.write([{ id: "a" }])),
      settle(group.write([{ id: "b" }, { id: "bad", bad: true }])),
      settle(group.write([{ id: "c" }])),
    ]);
    expect(results).toEqual(["ok", "invalid input syntax", "ok"]);
    // The group, then each batch on its own.
    expect(db.writes).toEqual([["a", "b", "bad", "c"], ["a"], ["b", "bad"], ["c"]]);
  });

  it("an unreachable database fails every caller at once, without a write each", async () => {
    const db = fakeDb({ down: true });
    const group = new WriteGroup(db.writeAll);
    const results = await Promise.all([
      settle(group.write([{ id: "a" }])),
      settle(group.write([{ id: "b" }])),
    ]);
    expect(results).toEqual([
      "timeout exceeded when trying to connect",
      "timeout exceeded when trying to connect",
    ]);
    expect(db.writes).toEqual([["a", "b"]]);
  });

  it("tells data errors from connection trouble by SQLSTATE, also when wrapped", () => {
    expect(isDataError(Object.assign(new Error("x"), { code: "23505" }))).toBe(true);
    expect(
      isDataError(new Error("q", { cause: Object.assign(new Error(), { code: "22P02" }) })),
    ).toBe(true);
    expect(isDataError(Object.assign(new Error("x"), { code: "08006" }))).toBe(false);
    expect(isDataError(Object.assign(new Error("x"), { code: "57P01" }))).toBe(false);
    expect(isDataError(Object.assign(new Error("x"), { code: "40P01" }))).toBe(false);
    expect(isDataError(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))).toBe(false);
    expect(isDataError(Object.assign(new Error("x"), { code: "EPIPE" }))).toBe(false);
    expect(isDataError(new Error("timeout exceeded when trying to connect"))).toBe(false);
  });
});
