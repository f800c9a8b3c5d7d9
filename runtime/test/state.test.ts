// State tracking, durability before reply, group commit, and serialization errors, on Node and
// (all but what needs the Node storage drivers) on workerd.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CommitBatch, StorageDriver } from "troupe";
import { captureLogger, waitFor } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { MemoryDriver } from "../src/storage/memory/index.js";
import { stateRegistry } from "./fixtures/suites/state.js";
import { loggedOn, nodeOnly, type Served, serve, TARGETS } from "./spec-targets.js";

/** A real memory driver whose commits can be held, to observe what waits for durability. */
class GatedDriver extends MemoryDriver implements StorageDriver {
  batches: CommitBatch[] = [];
  private gate: Promise<void> | null = null;
  private open_: (() => void) | null = null;
  hold() {
    this.gate = new Promise((r) => {
      this.open_ = r;
    });
  }
  release() {
    this.open_?.();
    this.gate = null;
  }
  override async commit(batch: CommitBatch): Promise<void> {
    this.batches.push(batch);
    if (this.gate) await this.gate;
    return super.commit(batch);
  }
}

const logger = captureLogger();
const registry = stateRegistry(logger);
let t: Served<typeof registry> | undefined;
beforeEach(() => logger.clear());
afterEach(async () => {
  await t?.close();
  t = undefined;
});
const tick = () => new Promise((r) => setTimeout(r, 30));

// On workerd the actors outlive a test (one process per file): each test uses keys of its own.
describe.each(TARGETS)("state on %s", (target) => {
  test("deep changes are tracked and kept", { timeout: 120_000 }, async () => {
    t = await serve(target, registry);
    const h = t.client.doc.getOrCreate(["a"]);
    await h.push({ x: 1 });
    await h.push([1, 2]);
    const s = await h.get();
    expect(s.nested.list).toEqual([{ x: 1 }, [1, 2]]);
  });

  nodeOnly(
    target,
    "holds the Node storage driver's commits; on Workers the platform's output gate holds a reply until the Durable Object's writes are durable",
  )("an action's reply waits until its state is durably written", async () => {
    const driver = new GatedDriver();
    t = await serve("node", registry, { storage: driver });
    const h = t.client.doc.getOrCreate(["d"]);
    await h.get();
    driver.hold();
    let replied = false;
    const call = h.increment().then((v) => {
      replied = true;
      return v;
    });
    // Wait for the batch itself (a fixed pause is not enough on a busy machine): it is held,
    // so the reply must not have left.
    const last = await waitFor(
      () => driver.batches.find((b) => b.states.some((s) => JSON.parse(s.data).state.count === 1)),
      { what: "the batch carrying count 1" },
    );
    expect(JSON.parse(last.states[0]!.data).state.count).toBe(1);
    expect(replied).toBe(false);
    driver.release();
    expect(await call).toBe(1);
  });

  nodeOnly(
    target,
    "group commit batches the actors of one process; on Workers each actor is its own object and writes its own storage",
  )("changes of many actors in one turn are one batch (group commit)", async () => {
    const driver = new GatedDriver();
    t = await serve("node", registry, { storage: driver });
    const handles = Array.from({ length: 20 }, (_, i) => t!.client.doc.getOrCreate([`g${i}`]));
    await Promise.all(handles.map((h) => h.get()));
    driver.hold();
    const before = driver.batches.length;
    const calls = Promise.all(handles.map((h) => h.increment()));
    await tick();
    driver.release();
    await calls;
    const batches = driver.batches.slice(before);
    const states = batches.reduce((n, b) => n + b.states.length, 0);
    expect(states).toBe(20);
    expect(batches.length).toBeLessThanOrEqual(3);
    expect(Math.max(...batches.map((b) => b.states.length))).toBeGreaterThanOrEqual(10);
  });

  nodeOnly(target, "reads what the Node storage driver was given")(
    "vars are never persisted",
    async () => {
      const driver = new GatedDriver();
      t = await serve("node", registry, { storage: driver });
      await t.client.doc.getOrCreate(["v"]).increment();
      const all = driver.batches.flatMap((b) => b.states.map((s) => s.data)).join("");
      expect(all).not.toContain("not persisted");
    },
  );

  test("unserializable values are refused with the path named, and nothing is stored", async () => {
    t = await serve(target, registry);
    const h = t.client.doc.getOrCreate(["bad"]);
    const date = await h.setDate().catch((e) => e);
    expect(date.code).toBe("internal_error");
    expect(date.message).toContain("state.tags.when");
    expect(date.message).toContain("Date");
    for (const kind of ["map", "fn", "big", "nan", "inf", "cls"]) {
      const err = await h.setBad(kind).catch((e) => e);
      expect(err.message, kind).toContain("state.nested.list[0].deep[2].bad");
    }
    const circ = await h.setCircular().catch((e) => e);
    expect(circ.message).toContain("circular");
    const s = await h.get();
    expect(s.nested.list).toEqual([]);
    expect(s.tags).toEqual({});
    // Each refusal is logged once on the server, with the action and the path named.
    const refused = (action: string, what: string, path: string) => ({
      level: "error",
      message: "internal error",
      action,
      error: expect.stringContaining(`Cannot store ${what} at ${path}:`),
    });
    const deep = "state.nested.list[0].deep[2].bad";
    const mine = () =>
      loggedOn(
        t!,
        logger,
        ["action", "path"],
        (line) => line.message === "internal error" && String(line.path).startsWith("/state/"),
      ).map(({ path: _path, ...line }) => line);
    // workerd's output reaches this process through a pipe, maybe after the replies.
    await waitFor(() => mine().length >= 8, { timeout: 60_000, what: "the eight log lines" });
    expect(mine()).toEqual([
      refused("setDate", "a Date", "state.tags.when"),
      refused("setBad", "a Map", deep),
      refused("setBad", "a function", deep),
      refused("setBad", "a bigint", deep),
      refused("setBad", "NaN", deep),
      refused("setBad", "Infinity", deep),
      refused("setBad", "a Point", deep),
      refused("setCircular", "a circular reference", "state.tags.loop.self"),
    ]);
  });

  test("assigned objects are copied, so state never aliases outside objects", async () => {
    t = await serve(target, registry);
    expect(await t.client.doc.getOrCreate(["al"]).alias()).toEqual({ o: { n: 1 }, copy: { n: 3 } });
  });

  test("c.saveState resolves once the state is written", async () => {
    const driver = new GatedDriver();
    t = await serve(target, registry, { storage: driver });
    expect(await t.client.doc.getOrCreate(["s"]).save()).toBe("saved");
    expect((await t.client.doc.getOrCreate(["s"]).get()).count).toBe(100);
    // Node: the write itself (on workerd the Durable Object's storage is not the test's to read).
    if (target === "node") {
      const last = driver.batches.at(-1)!;
      expect(JSON.parse(last.states[0]!.data).state.count).toBe(100);
    }
  });

  nodeOnly(target, "the file driver; state across a workerd restart is in cloudflare.test.ts")(
    "state survives a restart on the file driver",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "troupe-state-"));
      try {
        t = await serve("node", registry, { storage: { driver: "file", path: dir } });
        await t.client.doc.getOrCreate(["p"]).push("kept");
        await t.close();
        t = await serve("node", registry, { storage: { driver: "file", path: dir } });
        expect((await t.client.doc.get(["p"]).get()).nested.list).toEqual(["kept"]);
      } finally {
        await t?.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
