// The rate limiter as a Cloudflare Worker (src/worker.ts) on a real workerd process: the same
// routes, middleware and actors, each actor a Durable Object on local disk, and Postgres reached
// from the Worker with pg over workerd's TCP sockets (the test database, on 127.0.0.1).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createClient } from "troupe/client";
import { type RunningWorkerd, startWorkerd } from "troupe/cloudflare/local";
import { createScratchDatabase } from "troupe/db";
import { waitFor } from "troupe/test";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { LimiterRegistry, TrafficSecond } from "../src/actors/index.js";
import { setupDatabase } from "../src/db/setup.js";
import { MAX_WINDOW_MS } from "../src/limiter/rules.js";
import { startLocalWorker, wranglerConfig } from "../src/worker-local.js";
import { TEST_PASSWORD, TEST_SCRYPT, TEST_SECRET } from "./helpers.js";

let scratch: { url: string; drop(): Promise<void> };
let dataDir: string;
let worker: RunningWorkerd;
let token: string;

beforeAll(async () => {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error("DATABASE_URL is not set: the global setup should provide it.");
  scratch = await createScratchDatabase(base);
  await setupDatabase(scratch.url, TEST_PASSWORD, TEST_SCRYPT);
  dataDir = await mkdtemp(join(tmpdir(), "rate-limiter-workerd-"));
  // The Worker as wrangler.jsonc deploys it (its entry, date, Durable Object binding and class,
  // vars), started as `pnpm dev:worker` starts it.
  worker = await startLocalWorker({
    databaseUrl: scratch.url,
    authSecret: TEST_SECRET,
    dataDir,
    vars: {
      // Generous, as in the Node tests: these count exactly, and a fail-open answer is uncounted.
      BUDGET_MS: "10000",
      // Usage counted per 500 ms and rolled up every 200 ms, so a test sees it in SQL soon.
      USAGE_BUCKET_MS: "500",
      USAGE_ROLLUP_MS: "200",
      // Small leases, so the aggregate's lower bound (50 − 7 × 5) says something.
      LEASE_BATCH: "5",
    },
  });
  const login = await fetch(`${worker.url}/api/admin/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ password: TEST_PASSWORD }),
  });
  expect(login.status, worker.output()).toBe(200);
  token = ((await login.json()) as { token: string }).token;
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  await scratch?.drop();
});

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const call = (path: string, key: string) =>
  fetch(`${worker.url}${path}`, { headers: { authorization: `Bearer ${key}` } });

/** A tenant on a plan of its own: `limit` quotes per (very long) fixed window; one key. */
async function tenantWithKey(id: string, limit: number) {
  const plan = await admin("PUT", `/api/admin/plans/${id}-plan`, {
    name: `Plan of ${id}`,
    rules: [
      {
        id: "quotes",
        match: { route: "/v1/quotes*", method: "GET" },
        algorithm: "fixed-window",
        limit,
        windowMs: MAX_WINDOW_MS,
      },
    ],
  });
  expect(plan.status, JSON.stringify(plan.body)).toBe(200);
  const tenant = await admin("POST", "/api/admin/tenants", {
    id,
    name: id,
    planId: `${id}-plan`,
  });
  expect(tenant.status, JSON.stringify(tenant.body)).toBe(201);
  const created = await admin("POST", `/api/admin/tenants/${id}/keys`, { name: "ci" });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return { key: created.body.key as string, keyId: created.body.id as string };
}

// Each test may wait up to 30 s for a step (workerd starts Durable Objects and reaches Postgres
// over TCP, slow on a loaded machine), and some have two such steps: more than the project's
// 30 s per test.
describe("rate limiter on workerd", { timeout: 90_000 }, () => {
  test("wrangler.jsonc: the Durable Object class is SQLite-backed; Node.js APIs are on", async () => {
    // beforeAll started the Worker from wrangler.jsonc's entry, date, binding and class.
    const config = await wranglerConfig();
    expect(config.migrations[0].new_sqlite_classes).toEqual([
      config.durable_objects.bindings[0].class_name,
    ]);
    const nodeApis =
      config.compatibility_date >= "2026-08-04" ||
      (config.compatibility_flags ?? []).includes("nodejs_compat");
    expect(nodeApis).toBe(true);
  });

  test("health reaches Postgres from the Worker", async () => {
    const res = await fetch(`${worker.url}/api/health`);
    expect(await res.json()).toEqual({ ok: true, database: "up" });
  });

  test("a limit of 5: five allowed with their headers, then 429 with Retry-After", async () => {
    const { key } = await tenantWithKey("acme", 5);
    const window = MAX_WINDOW_MS / 1000;
    for (let i = 1; i <= 5; i++) {
      const res = await call("/v1/quotes", key);
      expect(res.status, worker.output()).toBe(200);
      expect(res.headers.get("ratelimit-policy")).toBe(`"quotes";q=5;w=${window}`);
      expect(res.headers.get("ratelimit")).toMatch(new RegExp(`^"quotes";r=${5 - i};t=\\d+$`));
      expect(await res.json()).toMatchObject({ text: expect.any(String) });
    }
    const refused = await call("/v1/quotes/1", key);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("ratelimit")).toMatch(/^"quotes";r=0;t=\d+$/);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ code: "rate_limited", reason: "rate_limited" });
  });

  test("concurrent callers against a limit of 20: exactly 20 allowed", async () => {
    const { key } = await tenantWithKey("busy", 20);
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const res = await call("/v1/quotes", key);
        await res.arrayBuffer();
        return res.status;
      }),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
  });

  test("a revoked key is refused on the next call; unknown and missing keys too", async () => {
    const { key, keyId } = await tenantWithKey("initech", 100);
    expect((await call("/v1/quotes", key)).status).toBe(200);
    const revoked = await admin("DELETE", `/api/admin/tenants/initech/keys/${keyId}`);
    expect(revoked.status).toBe(200);
    const res = await call("/v1/quotes", key);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "revoked_api_key" });
    const unknown = await call("/v1/quotes", `${key.slice(0, -4)}AAAA`);
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ code: "unknown_api_key" });
    const missing = await fetch(`${worker.url}/v1/quotes`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ code: "missing_api_key" });
  });

  test("the tenant aggregate across 4 keys is never exceeded (32 callers)", async () => {
    const { key } = await tenantWithKey("umbrella", 1000);
    const patched = await admin("PATCH", "/api/admin/tenants/umbrella", {
      aggregate: { limit: 50, windowMs: MAX_WINDOW_MS },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const keys = [key];
    for (let i = 0; i < 3; i++) {
      const created = await admin("POST", "/api/admin/tenants/umbrella/keys", { name: `k${i}` });
      expect(created.status).toBe(201);
      keys.push(created.body.key);
    }
    let next = 0;
    let allowed = 0;
    const reasons = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < 120) {
          const res = await call("/v1/quotes", keys[next++ % keys.length]!);
          const body = (await res.json()) as { reason?: string };
          if (res.status === 200) allowed++;
          else reasons.set(String(body.reason), (reasons.get(String(body.reason)) ?? 0) + 1);
        }
      }),
    );
    // Never above the aggregate; below it by at most the leases stranded on the other 7 shards.
    expect(allowed).toBeLessThanOrEqual(50);
    expect(allowed).toBeGreaterThanOrEqual(50 - 7 * 5);
    expect(reasons.get("tenant_limit_reached")).toBe(120 - allowed);
  });

  test("a plan change reaches the running shards before the admin call returns", async () => {
    const { key } = await tenantWithKey("stark", 3);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await call("/v1/quotes", key);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const changed = await admin("PUT", "/api/admin/plans/stark-plan", {
      name: "Plan of stark",
      rules: [
        {
          id: "quotes",
          match: { route: "/v1/quotes*", method: "GET" },
          algorithm: "fixed-window",
          limit: 8,
          windowMs: MAX_WINDOW_MS,
        },
      ],
    });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body.tenantsUpdated).toBe(1);
    const res = await call("/v1/quotes", key);
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-policy")).toBe(`"quotes";q=8;w=${MAX_WINDOW_MS / 1000}`);
    expect(res.headers.get("ratelimit")).toMatch(/^"quotes";r=4;/);
  });

  test("a key revoked in SQL directly is refused once the coordinator's refresh reads it", async () => {
    const { key, keyId } = await tenantWithKey("wayne", 100_000);
    expect((await call("/v1/quotes", key)).status).toBe(200);
    const pool = new pg.Pool({ connectionString: scratch.url, max: 1 });
    try {
      await pool.query("UPDATE api_keys SET revoked_at = now() WHERE id = $1", [keyId]);
      await pool.query("UPDATE tenants SET version = version + 1 WHERE id = 'wayne'");
    } finally {
      await pool.end();
    }
    // No admin route told the limiter: the coordinator's own refresh (CONFIG_REFRESH_MS, 1 s)
    // notices it and pushes it to the shards. How long that took is not asserted.
    const refused = await waitFor(
      async () => {
        const res = await call("/v1/quotes", key);
        const body = (await res.json()) as { code?: string };
        return res.status === 200 ? undefined : { status: res.status, code: body.code };
      },
      { timeout: 30_000, what: "the revocation to reach the limiter" },
    );
    expect(refused).toEqual({ status: 401, code: "revoked_api_key" });
  });

  test("signing out ends that token at once; another sign-in stays", async () => {
    const signIn = async () => {
      const res = await fetch(`${worker.url}/api/admin/login`, {
        method: "POST",
        headers: { "content-type": "application/json", "cf-connecting-ip": "192.0.2.10" },
        body: JSON.stringify({ password: TEST_PASSWORD }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { token: string }).token;
    };
    const tenants = (t: string) =>
      fetch(`${worker.url}/api/admin/tenants`, { headers: { authorization: `Bearer ${t}` } });
    const [laptop, phone] = [await signIn(), await signIn()];
    expect((await tenants(laptop)).status).toBe(200);
    const out = await fetch(`${worker.url}/api/admin/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${laptop}` },
    });
    expect(out.status).toBe(200);
    const refused = await tenants(laptop);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string }).code).toBe("admin_required");
    expect((await tenants(phone)).status).toBe(200);
  });

  test("admin sign-in attempts are limited per address (CF-Connecting-IP) by the limiter", async () => {
    const attempt = (address: string, password = "not the password") =>
      fetch(`${worker.url}/api/admin/login`, {
        method: "POST",
        headers: { "content-type": "application/json", "cf-connecting-ip": address },
        body: JSON.stringify({ password }),
      });
    for (let i = 0; i < 10; i++) {
      const res = await attempt("198.51.100.7");
      await res.arrayBuffer();
      expect(res.status).toBe(401);
    }
    // The 11th from that address is refused before the password is looked at.
    const refused = await attempt("198.51.100.7", TEST_PASSWORD);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("ratelimit-policy")).toBe('"admin-login";q=10;w=900');
    expect(await refused.json()).toMatchObject({ code: "rate_limited" });
    // Another address has its own count.
    const other = await attempt("198.51.100.8", TEST_PASSWORD);
    expect(other.status).toBe(200);
  });

  test("admin routes need the admin's token; a wrong password is refused; no first-run setup", async () => {
    const anonymous = await fetch(`${worker.url}/api/admin/tenants`);
    expect(anonymous.status).toBe(401);
    const wrong = await fetch(`${worker.url}/api/admin/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ password: "not the password" }),
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: "wrong_password" });
    // A deploy: no first-run setup (the admin comes from `pnpm db:setup`).
    const setup = await fetch(`${worker.url}/api/admin/setup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ password: "a-stranger-claims-it" }),
    });
    expect(setup.status).toBe(404);
    expect(await setup.json()).toMatchObject({ code: "setup_disabled" });
    const tenants = await admin("GET", "/api/admin/tenants");
    expect(tenants.status).toBe(200);
    expect(tenants.body.map((t: { id: string }) => t.id)).toContain("acme");
  });

  test("the limiter's actors refuse callers from outside, and the internal mark is refused", async () => {
    const outside = await fetch(`${worker.url}/api/troupe/actors/action/stats`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        actor: { name: "limiterShard", key: ["acme", "0"], mode: "getOrCreate" },
        args: [],
      }),
    });
    expect(outside.status).toBe(403);
    expect((await outside.json()).error.code).toBe("internal_actor");
    const forged = await fetch(`${worker.url}/api/troupe/actors/action/stats`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-troupe-internal": "1" },
      body: JSON.stringify({
        actor: { name: "limiterShard", key: ["acme", "0"], mode: "getOrCreate" },
        args: [],
      }),
    });
    expect(forged.status).toBe(400);
  });

  test("usage reaches SQL through the shards' outbox, every decision counted", async () => {
    const { key } = await tenantWithKey("globex", 3);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await call("/v1/quotes", key);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const pool = new pg.Pool({ connectionString: scratch.url, max: 1 });
    try {
      const totals = await waitFor(
        async () => {
          const { rows } = await pool.query<{ allowed: number; limited: number }>(
            "SELECT coalesce(sum(allowed), 0)::int AS allowed, coalesce(sum(limited), 0)::int AS limited FROM usage_minutes WHERE tenant_id = 'globex'",
          );
          const t = rows[0]!;
          return t.allowed + t.limited === 5 ? t : undefined;
        },
        { timeout: 30_000, what: "the 5 decisions in usage_minutes" },
      );
      expect(totals).toEqual({ allowed: 3, limited: 2 });
    } finally {
      await pool.end();
    }
    const usage = await admin("GET", "/api/admin/tenants/globex/usage?minutes=60");
    expect(usage.status).toBe(200);
  });

  test("the live chart: an admin's connection gets the seconds the shards report", async () => {
    const { key } = await tenantWithKey("hooli", 100);
    const client = createClient<LimiterRegistry>(`${worker.url}/api/troupe`);
    try {
      const refused = await client.tenantTraffic
        .getOrCreate(["hooli"], { params: { token: `${token}x` } })
        .recent()
        .then(
          () => undefined,
          (err: { code?: string }) => err.code,
        );
      expect(refused).toBe("admin_required");
      const conn = client.tenantTraffic.getOrCreate(["hooli"], { params: { token } }).connect();
      const seen: TrafficSecond[] = [];
      conn.on("second", (s: TrafficSecond) => seen.push(s));
      await waitFor(() => conn.status === "connected", { timeout: 30_000, what: "the connection" });
      for (let i = 0; i < 4; i++) await (await call("/v1/quotes", key)).arrayBuffer();
      await waitFor(() => seen.reduce((n, s) => n + (s.rules.quotes?.allowed ?? 0), 0) === 4, {
        timeout: 30_000,
        what: "the 4 requests in the broadcast seconds",
      });
    } finally {
      await client.dispose();
    }
  });

  test("without AUTH_SECRET the Worker answers 500 misconfigured and logs what is missing", async () => {
    const bare = await startWorkerd({
      entry: join(import.meta.dirname, "../src/worker.ts"),
      vars: { DATABASE_URL: scratch.url },
    });
    try {
      const res = await fetch(`${bare.url}/api/health`);
      expect(res.status).toBe(500);
      expect(await res.json()).toMatchObject({ code: "misconfigured" });
      await waitFor(() => bare.output().includes("AUTH_SECRET must be set"), {
        timeout: 30_000,
        what: "the log line naming AUTH_SECRET",
      });
    } finally {
      await bare.stop();
    }
  });
});
