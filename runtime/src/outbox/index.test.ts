// The outbox against a real Postgres (the global setup's, or DATABASE_URL): batches land,
// entries the database refuses are found by halving and set aside while the rest flows, an
// outage sets nothing aside, the dead letters are bounded and can be queued again, and
// inTransaction gives its client back however the connection breaks.
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase } from "../db/index.js";
import { type CapturedLogger, captureLogger } from "../test/logger.js";
import { startTcpProxy, type TcpProxy } from "../test/tcp-proxy.js";
import { waitFor } from "../test/wait.js";
import {
  enqueue,
  inTransaction,
  OutboxFlusher,
  type OutboxOptions,
  type OutboxState,
  type Queued,
  storableRow,
} from "./index.js";

interface Item {
  id: string;
  value: string;
}

let scratch: { url: string; drop(): Promise<void> };
let pool: pg.Pool;
let table = 0;

beforeAll(async () => {
  scratch = await createScratchDatabase(process.env.DATABASE_URL!);
  pool = new pg.Pool({ connectionString: scratch.url, max: 4 });
});
afterAll(async () => {
  await pool?.end();
  await scratch?.drop();
});

/** A fresh table per test; `value <> 'refused'` is a rule a test can lift later. */
async function freshTable(): Promise<string> {
  const name = `items_${++table}`;
  await pool.query(
    `CREATE TABLE ${name} (id text PRIMARY KEY, value text NOT NULL CONSTRAINT no_refused CHECK (value <> 'refused'))`,
  );
  return name;
}

async function rows(name: string): Promise<Map<string, string>> {
  const { rows } = await pool.query<Item>(`SELECT id, value FROM ${name}`);
  return new Map(rows.map((r) => [r.id, r.value]));
}

function upsert(target: pg.Pool, name: string) {
  return (batch: readonly Queued<Item>[]) =>
    inTransaction(target, async (client) => {
      for (const e of batch) {
        await client.query(
          `INSERT INTO ${name} (id, value) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET value = excluded.value`,
          [e.id, e.value],
        );
      }
    });
}

const FAST: OutboxOptions = { retryMinMs: 5, retryMaxMs: 40, flushDelayMs: 1 };

function flusherFor(
  write: (batch: readonly Queued<Item>[]) => Promise<void>,
  opts: OutboxOptions = {},
): { state: OutboxState<Item>; flusher: OutboxFlusher<Item>; logger: CapturedLogger } {
  const state: OutboxState<Item> = { outbox: [], outboxSeq: 0 };
  const logger = captureLogger();
  const flusher = new OutboxFlusher<Item>(
    { state, write, keepAwake: () => {}, log: logger },
    { ...FAST, ...opts },
  );
  flushers.push(flusher);
  return { state, flusher, logger };
}
const flushers: OutboxFlusher<Item>[] = [];
afterEach(() => {
  for (const f of flushers.splice(0)) f.stop();
});

function add(state: OutboxState<Item>, from: number, to: number, value = (i: number) => `v${i}`) {
  for (let i = from; i <= to; i++) enqueue(state, { id: `i${i}`, value: value(i) });
}

describe("OutboxFlusher", () => {
  it("writes in batches and removes entries only after they committed", async () => {
    const name = await freshTable();
    const batches: number[] = [];
    const write = upsert(pool, name);
    const { state, flusher } = flusherFor(
      (batch) => {
        batches.push(batch.length);
        return write(batch);
      },
      { batchSize: 20 },
    );
    add(state, 1, 50);
    flusher.kick();
    await waitFor(() => state.outbox.length === 0, { what: "an empty outbox" });
    expect(batches).toEqual([20, 20, 10]);
    expect((await rows(name)).size).toBe(50);
    expect(state.outboxDeadLetters).toBeUndefined();
  });

  it("an entry the database refuses is set aside while every other one is written", async () => {
    const name = await freshTable();
    const { state, flusher, logger } = flusherFor(upsert(pool, name), { batchSize: 64 });
    // A NUL character: Postgres text cannot hold it.
    add(state, 1, 100, (i) => (i === 37 ? "bad\u0000value" : `v${i}`));
    flusher.kick();
    await waitFor(() => state.outbox.length === 0, { what: "an empty outbox" });
    const written = await rows(name);
    expect(written.size).toBe(99);
    expect(written.has("i37")).toBe(false);
    expect(state.outboxDeadLetters).toHaveLength(1);
    const [letter] = state.outboxDeadLetters!;
    expect(letter!.entry).toMatchObject({ id: "i37", value: "bad\u0000value" });
    expect(letter!.error).toMatch(/0x00/);
    expect(letter!.attempts).toBeGreaterThanOrEqual(5);
    expect(logger.find("error", "set aside")?.fields.entry).toEqual({ n: 37 });
    // Later entries flow as before.
    add(state, 101, 110);
    flusher.kick();
    await waitFor(async () => (await rows(name)).size === 109, { what: "later entries" });
  });

  it("finds several bad entries, side by side and at the end", async () => {
    const name = await freshTable();
    const { state, flusher } = flusherFor(upsert(pool, name), { batchSize: 16 });
    const bad = new Set([1, 2, 3, 20, 40]);
    add(state, 1, 40, (i) => (bad.has(i) ? "refused" : `v${i}`));
    flusher.kick();
    // The last entry is bad: only a write after it shows the database works, so it waits for one.
    await waitFor(() => state.outbox.length === 1 && state.outboxDeadLetters?.length === 4, {
      what: "four entries set aside",
    });
    add(state, 41, 41);
    flusher.kick();
    await waitFor(() => state.outbox.length === 0, { what: "an empty outbox" });
    expect(state.outboxDeadLetters!.map((d) => d.entry.id)).toEqual([
      "i1",
      "i2",
      "i3",
      "i20",
      "i40",
    ]);
    expect((await rows(name)).size).toBe(36);
  });

  it("sets nothing aside while the database is unreachable, and catches up when it is back", async () => {
    const name = await freshTable();
    const url = new URL(scratch.url);
    const proxy: TcpProxy = await startTcpProxy(url.hostname, Number(url.port));
    url.port = String(proxy.port);
    const proxied = new pg.Pool({
      connectionString: url.toString(),
      connectionTimeoutMillis: 2000,
    });
    proxied.on("error", () => {});
    try {
      await proxy.cut();
      const { state, flusher, logger } = flusherFor(upsert(proxied, name));
      add(state, 1, 30);
      flusher.kick();
      // Long enough that entries were held one after the other.
      await waitFor(
        () => logger.entries.filter((e) => e.message.includes("on its own")).length >= 3,
        {
          timeout: 20_000,
          what: "entries held during the outage",
        },
      );
      await proxy.restore();
      await waitFor(() => state.outbox.length === 0, { timeout: 20_000, what: "the catch-up" });
      expect(state.outboxDeadLetters ?? []).toEqual([]);
      expect((await rows(name)).size).toBe(30);
      expect(logger.find("warn", "SQL writes resumed")).toBeDefined();
    } finally {
      await proxy.restore();
      await proxied.end();
      await proxy.close();
    }
  });

  it("flushNow during a failing write replaces the planned retry: never two writes at once", async () => {
    let calls = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const { state, flusher } = flusherFor(
      async () => {
        calls++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 60));
        inFlight--;
        if (calls === 1) throw new Error("connect ECONNREFUSED (simulated)");
      },
      { retryMinMs: 20, retryMaxMs: 20 },
    );
    add(state, 1, 1);
    flusher.kick();
    await waitFor(() => inFlight === 1, { what: "the first write" });
    // As a room's onSleep does: the first write fails meanwhile and plans a retry in 20 ms.
    await flusher.flushNow();
    await new Promise((r) => setTimeout(r, 100)); // past the retry that must not run beside it
    expect(state.outbox).toEqual([]);
    expect(maxInFlight).toBe(1);
  });

  it("keeps at most maxDeadLetters, and queues them again on request", async () => {
    const name = await freshTable();
    const { state, flusher, logger } = flusherFor(upsert(pool, name), { maxDeadLetters: 3 });
    add(state, 1, 12, (i) => (i % 2 === 0 ? "refused" : `v${i}`));
    add(state, 13, 13);
    flusher.kick();
    await waitFor(() => state.outbox.length === 0, { what: "an empty outbox" });
    expect(state.outboxDeadLetters!.map((d) => d.entry.id)).toEqual(["i8", "i10", "i12"]);
    expect(logger.find("error", "oldest set-aside entries dropped")).toBeDefined();
    // The cause is fixed: what was kept is written.
    await pool.query(`ALTER TABLE ${name} DROP CONSTRAINT no_refused`);
    expect(flusher.retryDeadLetters()).toBe(3);
    await waitFor(() => state.outbox.length === 0, { what: "the retried entries" });
    expect(state.outboxDeadLetters).toEqual([]);
    expect((await rows(name)).get("i10")).toBe("refused");
  });
});

describe("inTransaction", () => {
  it("commits, or rolls back and rethrows", async () => {
    const name = await freshTable();
    await inTransaction(pool, (c) => c.query(`INSERT INTO ${name} VALUES ('a', 'x')`));
    const failure = await inTransaction(pool, async (c) => {
      await c.query(`INSERT INTO ${name} VALUES ('b', 'x')`);
      await c.query(`INSERT INTO ${name} VALUES ('a', 'dup')`);
    }).catch((e: Error) => e);
    expect(failure).toBeInstanceOf(Error);
    expect([...(await rows(name)).keys()]).toEqual(["a"]);
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it("a pooled client whose connection died while idle is replaced, not failed on", async () => {
    // pg's pool hands out an idle client whose connection has died until it notices the close
    // (a database restart, a network blip, a busy machine that has not read the socket yet).
    // Nothing has run when BEGIN fails, so another client can safely take over.
    const name = await freshTable();
    const url = new URL(scratch.url);
    const proxy = await startTcpProxy(url.hostname, Number(url.port));
    url.port = String(proxy.port);
    const proxied = new pg.Pool({ connectionString: url.toString(), max: 1 });
    proxied.on("error", () => {});
    proxied.on("connect", (client) => client.on("error", () => {}));
    try {
      const idle = await proxied.connect();
      const { rows: backend } = await idle.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      idle.release();
      // The idle client's connection now leads nowhere: BEGIN is sent and gets no answer...
      proxy.freeze();
      const attempt = inTransaction(proxied, (c) =>
        c.query(`INSERT INTO ${name} VALUES ('after', 'x')`),
      );
      await waitFor(() => proxied.idleCount === 0, { what: "the idle client checked out" });
      // ...until its server process ends and the connection closes under it.
      await pool.query("SELECT pg_terminate_backend($1)", [backend[0]!.pid]);
      await attempt;
      expect((await rows(name)).get("after")).toBe("x");
      expect(proxied.totalCount - proxied.idleCount).toBe(0);
    } finally {
      await proxied.end();
      await proxy.close();
    }
  });

  it("a connection cut at any point of a transaction leaks no pooled client", async () => {
    const name = await freshTable();
    const url = new URL(scratch.url);
    const proxy = await startTcpProxy(url.hostname, Number(url.port));
    url.port = String(proxy.port);
    const proxied = new pg.Pool({ connectionString: url.toString(), max: 4 });
    proxied.on("error", () => {});
    proxied.on("connect", (client) => client.on("error", () => {}));
    try {
      let failed = 0;
      // More rounds than the pool has clients.
      for (let round = 0; round < 12; round++) {
        const attempt = inTransaction(proxied, (c) =>
          c.query(`INSERT INTO ${name} VALUES ($1, 'x')`, [`r${round}`]),
        ).catch(() => {
          failed++;
        });
        const cut = new Promise<void>((resolve) =>
          setTimeout(() => void proxy.cut().then(resolve), Math.random() * 8),
        );
        await attempt;
        await cut;
        await proxy.restore();
        expect(proxied.totalCount - proxied.idleCount).toBe(0);
      }
      expect(failed).toBeGreaterThan(0);
      await inTransaction(proxied, (c) => c.query(`INSERT INTO ${name} VALUES ('last', 'x')`));
      expect((await rows(name)).has("last")).toBe(true);
    } finally {
      await proxied.end();
      await proxy.close();
    }
  });
});

describe("storableRow", () => {
  it("removes NUL from a row's strings, copying only a row that has one", () => {
    const clean = { id: "a", text: "fine", n: 1 };
    expect(storableRow(clean)).toBe(clean);
    const dirty = { id: "b", text: "bad\u0000byte\u0000", n: 2 };
    expect(storableRow(dirty)).toEqual({ id: "b", text: "badbyte", n: 2 });
    expect(dirty.text).toBe("bad\u0000byte\u0000");
  });
});
