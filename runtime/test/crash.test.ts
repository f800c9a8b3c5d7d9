// A server in a child process takes increments from 32 concurrent callers and is killed with
// SIGKILL mid-load. After a restart on the same storage, every acknowledged increment is there,
// and each actor's state is internally consistent (no torn or half-applied write).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "troupe/client";
import { describe, expect, test } from "vitest";
import type { registry } from "./fixtures/crash-server.js";
import { spawnServer, until } from "./support.js";

const CALLERS = 32;
const ACTORS = 8;

const SERVER = join(import.meta.dirname, "fixtures/crash-server.ts");

async function crashAndCheck(env: Record<string, string>) {
  const first = await spawnServer(SERVER, env);
  const client = createClient<typeof registry>(first.url);
  const acked = new Map<string, number>();
  let stop = false;
  const callers = Array.from({ length: CALLERS }, async (_, i) => {
    const caller = `caller-${i}`;
    const handle = client.tally.getOrCreate(["shard", String(i % ACTORS)]);
    for (let seq = 1; !stop; seq++) {
      try {
        await handle.add(caller, seq);
        acked.set(caller, seq);
      } catch {
        return; // the server died under us: this call was never acknowledged
      }
    }
  });
  // Killed mid-load once the load really runs (every caller acknowledged a few), however slow
  // the machine: a fixed pause left a loaded CI with almost nothing acknowledged.
  const ackedSoFar = () => [...acked.values()].reduce((a, b) => a + b, 0);
  await until(() => acked.size === CALLERS && ackedSoFar() > 4 * CALLERS, 40_000, "acks");
  await new Promise((r) => setTimeout(r, 200));
  await first.kill();
  stop = true;
  await Promise.all(callers);
  const totalAcked = [...acked.values()].reduce((a, b) => a + b, 0);
  expect(totalAcked).toBeGreaterThan(CALLERS); // the load really ran

  const second = await spawnServer(SERVER, env);
  try {
    const after = createClient<typeof registry>(second.url);
    for (let a = 0; a < ACTORS; a++) {
      const state = await after.tally.get(["shard", String(a)]).read();
      let sum = 0;
      for (const last of Object.values(state.last)) sum += last;
      expect(state.count).toBe(sum); // consistent: no half-written state
      for (let i = a; i < CALLERS; i += ACTORS) {
        const caller = `caller-${i}`;
        expect(state.last[caller] ?? 0).toBeGreaterThanOrEqual(acked.get(caller) ?? 0);
      }
    }
  } finally {
    await second.kill();
  }
  return totalAcked;
}

describe("crash safety (SIGKILL mid-load)", () => {
  test("file driver keeps every acknowledged increment", async () => {
    const dir = await mkdtemp(join(tmpdir(), "troupe-crash-"));
    try {
      await crashAndCheck({ TROUPE_STORAGE: "file", TROUPE_DATA_DIR: dir });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test("postgres driver keeps every acknowledged increment", async () => {
    const url = process.env.DATABASE_URL;
    expect(url, "DATABASE_URL is set by the test global setup").toBeTruthy();
    const schema = `troupe_crash_${Date.now().toString(36)}`;
    await crashAndCheck({
      TROUPE_STORAGE: "postgres",
      TROUPE_DATABASE_URL: url!,
      TROUPE_DB_SCHEMA: schema,
    });
    const pg = await import("pg");
    const client = new pg.default.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }, 90_000);
});
