// A write that storage refuses (a full disk for the file driver, a failing statement for
// Postgres) must leave no trace: the caller gets `storage_error`, the actor restarts from what
// storage holds (its changes since the last stored write are gone, KV included), and a retried
// action applies once. Both failures are real: a 3 MiB tmpfs filled up, and a Postgres trigger
// that raises the server's own disk_full error. Last, a file log damaged in the middle keeps the
// server from starting unless the loss is accepted.
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { actor, setup } from "troupe";
import { captureLogger, setupTest, type TestRuntime, waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { LogCorruptedError } from "../src/storage/file/format.js";
import type { StorageOption } from "../src/storage/open.js";
import { mountSmallDisk, smallDiskUnavailable } from "./tmpfs.js";

/** Well above what a full disk has left (a few KB of a partly used page). */
const TOO_BIG = 64 * 1024;

/** Times `ring` ran, in this process. */
let rings = 0;

const counter = actor({
  /** `input.blob` makes the new actor's record too big for a full disk. */
  createState: (_c: unknown, input?: { blob?: number }) => ({
    count: 0,
    blob: "x".repeat(input?.blob ?? 0),
    connects: 0,
    pad: "",
  }),
  /** Stores a change on connect; `params.pad` makes it too big for a full disk. */
  onConnect: (c, conn) => {
    c.state.connects += 1;
    c.state.pad = "z".repeat((conn.params as { pad?: number } | undefined)?.pad ?? 0);
  },
  actions: {
    increment: (c, n: number) => {
      c.state.count += n;
      return c.state.count;
    },
    /** A state change too big for a full disk. */
    grow: (c, bytes: number) => {
      c.state.count += 1;
      c.state.blob = "x".repeat(bytes);
      return c.state.count;
    },
    /** A KV write too big for a full disk, after a state change in memory. */
    note: async (c, bytes: number) => {
      c.state.count += 1;
      await c.kv.put("note", "y".repeat(bytes));
      return c.state.count;
    },
    /** Stores an alarm that calls `ring`. */
    arm: async (c, ms: number) => {
      await c.schedule.after(ms, "ring");
    },
    ring: () => {
      rings++;
    },
    /** Cancels the alarms in memory, in a change too big for a full disk. */
    cancelAlarmsAndGrow: (c, bytes: number) => {
      for (const e of c.schedule.list()) c.schedule.cancel(e.id);
      c.state.blob = "x".repeat(bytes);
    },
    read: async (c) => ({
      count: c.state.count,
      blob: c.state.blob.length,
      note: ((await c.kv.get("note")) as string | null)?.length ?? null,
    }),
  },
});

interface Backend {
  storage: StorageOption;
  /** Makes every further write fail the way a full disk does. */
  breakWrites(): Promise<void>;
  restoreWrites(): Promise<void>;
  cleanup(): Promise<void>;
}

const backends: [string, () => Promise<Backend | string>][] = [
  [
    "file driver on a full disk",
    async () => {
      const unavailable = await smallDiskUnavailable();
      if (unavailable) return unavailable;
      const disk = await mountSmallDisk(3 * 1024 * 1024);
      let filler: string | undefined;
      return {
        storage: { driver: "file", path: join(disk.dir, "data") },
        breakWrites: async () => {
          filler = await disk.fill(0);
        },
        restoreWrites: async () => {
          if (filler) await rm(filler);
          filler = undefined;
        },
        cleanup: () => disk.unmount(),
      };
    },
  ],
  [
    "postgres driver with failing writes",
    async () => {
      const connectionString = process.env.DATABASE_URL!;
      const schema = `troupe_fail_${randomBytes(6).toString("hex")}`;
      const s = pg.escapeIdentifier(schema);
      const admin = new pg.Client({ connectionString });
      await admin.connect();
      return {
        storage: { driver: "postgres", connectionString, schema },
        breakWrites: async () => {
          await admin.query(`CREATE FUNCTION ${s}.refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$`);
          for (const table of ["actors", "kv"]) {
            await admin.query(`CREATE TRIGGER refuse_writes BEFORE INSERT OR UPDATE OR DELETE
              ON ${s}.${table} FOR EACH ROW EXECUTE FUNCTION ${s}.refuse_writes()`);
          }
        },
        restoreWrites: async () => {
          await admin.query(`DROP FUNCTION IF EXISTS ${s}.refuse_writes() CASCADE`);
        },
        cleanup: async () => {
          await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
          await admin.end();
        },
      };
    },
  ],
];

describe.each(backends)("a failed write (%s)", (_name, makeBackend) => {
  let backend: Backend | undefined;
  let t: TestRuntime<ReturnType<typeof makeRegistry>> | undefined;
  const logger = captureLogger();
  const makeRegistry = () => setup({ use: { counter }, logger });

  async function start() {
    t = await setupTest(makeRegistry(), { storage: backend!.storage });
    return t;
  }

  afterEach(async () => {
    await t?.close();
    t = undefined;
    await backend?.restoreWrites();
    await backend?.cleanup();
    backend = undefined;
    logger.clear();
  });

  async function prepare(ctx: { skip: (note: string) => never }) {
    const made = await makeBackend();
    if (typeof made === "string") ctx.skip(made);
    backend = made as Backend;
    return start();
  }

  test("is reported as storage_error and leaves no trace; the retry applies once", async (ctx) => {
    const { client } = await prepare(ctx);
    const h = client.counter.getOrCreate(["a"]);
    expect(await h.increment(1)).toBe(1);

    await backend!.breakWrites();
    await expect(h.grow(TOO_BIG)).rejects.toMatchObject({ code: "storage_error" });
    // The next call wakes the actor from storage; its KV write fails the same way.
    await expect(h.note(TOO_BIG)).rejects.toMatchObject({ code: "storage_error" });
    // Creating an actor is a write too.
    const created = client.counter.getOrCreate(["new"], { createWithInput: { blob: TOO_BIG } });
    await expect(created.read()).rejects.toMatchObject({ code: "storage_error" });
    await backend!.restoreWrites();

    // Nothing of the failed calls is in memory or on disk, and a retry counts once.
    expect(await h.read()).toEqual({ count: 1, blob: 0, note: null });
    expect(await h.increment(1)).toBe(2);
    await t!.close();
    const again = await start();
    expect(await again.client.counter.get(["a"]).read()).toEqual({
      count: 2,
      blob: 0,
      note: null,
    });

    const failures = logger.entries.filter((e) => e.level === "error");
    expect(failures.length).toBeGreaterThan(0);
    for (const e of failures) expect(e.message).toMatch(/storage write failed/);
    for (const e of logger.entries.filter((e) => e.level === "warn")) {
      expect(e.message).toMatch(/appending without them/); // the file driver on a small disk
    }
  });

  test("fails a connection's pending call with storage_error; the client reconnects", async (ctx) => {
    const { client } = await prepare(ctx);
    const conn = client.counter.getOrCreate(["b"]).connect();
    expect(await conn.increment(1)).toBe(1);
    const closes: number[] = [];
    conn.onClose((e) => closes.push(e.code));
    const firstConnId = conn.connId;

    await backend!.breakWrites();
    await expect(conn.grow(TOO_BIG)).rejects.toMatchObject({ code: "storage_error" });
    await backend!.restoreWrites();

    // The actor was reset: its connections were closed so that clients come back to the
    // instance woken from storage, which does not have the failed change.
    await waitFor(() => closes.length > 0 && conn.status === "connected", { timeout: 20_000 });
    expect(closes[0]).toBe(1011);
    expect(conn.connId).not.toBe(firstConnId);
    expect(await conn.increment(1)).toBe(2);
    await conn.dispose();
  });

  test("a connection refused by a failed write is retried by the client, not given up", async (ctx) => {
    const { client } = await prepare(ctx);
    await client.counter.getOrCreate(["c"]).increment(1);
    await backend!.breakWrites();
    let pad = TOO_BIG;
    const conn = client.counter.getOrCreate(["c"], { getParams: () => ({ pad }) }).connect();
    // onConnect's change cannot be stored: init is refused with storage_error (4001).
    await waitFor(() => logger.find("error", "storage write failed"), { timeout: 20_000 });
    pad = 0;
    await backend!.restoreWrites();
    await waitFor(() => conn.status === "connected", { timeout: 20_000 });
    expect(await conn.increment(1)).toBe(2);
    await conn.dispose();
  });

  test("a lost change to the schedule does not lose the stored alarm", async (ctx) => {
    const { client, clock } = await prepare(ctx);
    rings = 0;
    const h = client.counter.getOrCreate(["d"]);
    await h.arm(60_000);
    await backend!.breakWrites();
    await expect(h.cancelAlarmsAndGrow(TOO_BIG)).rejects.toMatchObject({ code: "storage_error" });
    await backend!.restoreWrites();
    // Nothing calls the actor: only its stored alarm, re-armed after the reset, can wake it.
    await waitFor(
      async () => {
        await clock.advance(60_000);
        return rings === 1;
      },
      { timeout: 20_000 },
    );
    expect(await h.read()).toMatchObject({ blob: 0 });
  });
});

describe("a damaged file log", () => {
  test("refuses to start the server; onCorruption: truncate starts it with the data before the damage", async () => {
    const dir = await mkdtemp(join(tmpdir(), "troupe-damaged-"));
    const logger = captureLogger();
    const registry = setup({ use: { counter }, logger });
    try {
      const first = await setupTest(registry, { storage: { driver: "file", path: dir } });
      await first.client.counter.getOrCreate(["early"]).increment(1);
      await first.client.counter.getOrCreate(["marked"]).grow(40); // "xxxx…" marks its frame
      await first.client.counter.getOrCreate(["late"]).increment(5);
      await first.close();

      // One flipped byte inside the marked frame, with the "late" frames after it.
      const logPath = join(dir, "troupe.log");
      const log = await readFile(logPath);
      const at = log.indexOf("x".repeat(40));
      expect(at).toBeGreaterThan(0);
      log[at + 10] ^= 0x01;
      await writeFile(logPath, log);

      const refused = await setupTest(registry, { storage: { driver: "file", path: dir } }).catch(
        (e) => e,
      );
      expect(refused).toBeInstanceOf(LogCorruptedError);
      expect(refused.message).toContain(logPath);
      expect(refused.message).toMatch(/byte offset \d+/);
      expect(refused.message).toMatch(/valid frames? \(\d+ bytes\) follows?/);
      expect(refused.message).toContain('onCorruption: "truncate"');

      const accepted = await setupTest(registry, {
        storage: { driver: "file", path: dir, onCorruption: "truncate" },
      });
      try {
        expect(await accepted.client.counter.get(["early"]).read()).toMatchObject({ count: 1 });
        await expect(accepted.client.counter.get(["late"]).read()).rejects.toMatchObject({
          code: "actor_not_found",
        });
      } finally {
        await accepted.close();
      }
      expect((await readdir(dir)).filter((f) => f.startsWith("troupe.log.corrupt-"))).toHaveLength(
        1,
      );
      expect(logger.find("warn", "checksum mismatch")?.fields).toMatchObject({
        component: "file-driver",
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
