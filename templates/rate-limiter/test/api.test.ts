// The whole app over real HTTP and SQL: admin routes create plans, tenants and keys; the public
// API behind the middleware counts exactly under concurrency; plan changes and key revocations
// reach the running shards at once; bad input is refused when saved.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { MAX_WINDOW_MS } from "../src/limiter/rules.js";
import { startServer } from "../src/server.js";
import { startTestApp, TEST_PASSWORD, TEST_SCRYPT, TEST_SECRET, type TestApp } from "./helpers.js";

const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function appWithTenant(limit: number, opts: Parameters<typeof startTestApp>[0] = {}) {
  const app = await startTestApp(opts);
  apps.push(app);
  const plan = await app.admin("PUT", "/api/admin/plans/exact", {
    name: "Exact",
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
  expect(plan.status).toBe(200);
  const tenant = await app.admin("POST", "/api/admin/tenants", {
    id: "acme",
    name: "Acme",
    planId: "exact",
  });
  expect(tenant.status).toBe(201);
  const created = await app.admin("POST", "/api/admin/tenants/acme/keys", { name: "ci" });
  expect(created.status).toBe(201);
  return { app, key: created.body.key as string, keyId: created.body.id as string };
}

/** `total` calls from `callers` concurrent loops; the status codes counted. */
async function load(app: TestApp, key: string, callers: number, total: number) {
  let next = 0;
  const statuses = new Map<number, number>();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < total) {
        next++;
        const res = await app.call("/v1/quotes", key);
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

describe("rate-limiter over HTTP", () => {
  test("32 concurrent callers against 100 per window: exactly 100 allowed", async () => {
    const { app, key } = await appWithTenant(100);
    const statuses = await load(app, key, 32, 400);
    expect(statuses.get(200)).toBe(100);
    expect(statuses.get(429)).toBe(300);
  });

  test("the tenant aggregate across keys is never exceeded (32 callers, 4 keys)", async () => {
    const { app, key } = await appWithTenant(1000, { tuning: { leaseBatch: 5 } });
    const patched = await app.admin("PATCH", "/api/admin/tenants/acme", {
      aggregate: { limit: 50, windowMs: MAX_WINDOW_MS },
    });
    expect(patched.status).toBe(200);
    const keys = [key];
    for (let i = 0; i < 3; i++) {
      keys.push(
        (await app.admin("POST", "/api/admin/tenants/acme/keys", { name: `k${i}` })).body.key,
      );
    }
    let next = 0;
    let allowed = 0;
    const reasons = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < 200) {
          const res = await app.call("/v1/quotes", keys[next++ % keys.length]!);
          const body = (await res.json()) as { reason?: string };
          if (res.status === 200) allowed++;
          else reasons.set(body.reason!, (reasons.get(body.reason!) ?? 0) + 1);
        }
      }),
    );
    // Never above the aggregate; below it by at most the leases stranded on the other shards.
    expect(allowed).toBeLessThanOrEqual(50);
    expect(allowed).toBeGreaterThanOrEqual(50 - (app.server.limiter.shardsPerTenant - 1) * 5);
    expect(reasons.get("tenant_limit_reached")).toBe(200 - allowed);
  });

  test("a plan change reaches the running shards before the admin call returns", async () => {
    const { app, key } = await appWithTenant(3);
    expect((await load(app, key, 4, 6)).get(200)).toBe(3);
    const changed = await app.admin("PUT", "/api/admin/plans/exact", {
      name: "Exact",
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
    expect(changed.body.tenantsUpdated).toBe(1);
    const res = await app.call("/v1/quotes", key);
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-policy")).toBe(`"quotes";q=8;w=${MAX_WINDOW_MS / 1000}`);
    expect(res.headers.get("ratelimit")).toMatch(/^"quotes";r=4;/);
  });

  test("a revoked key is refused on the very next call", async () => {
    const { app, key, keyId } = await appWithTenant(100);
    expect((await app.call("/v1/quotes", key)).status).toBe(200);
    expect((await app.admin("DELETE", `/api/admin/tenants/acme/keys/${keyId}`)).status).toBe(200);
    const res = await app.call("/v1/quotes", key);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "revoked_api_key" });
  });

  test("a revocation made in SQL directly reaches the coordinator with its next refresh", async () => {
    const { app, key, keyId } = await appWithTenant(100_000, { tuning: { configRefreshMs: 200 } });
    expect((await app.call("/v1/quotes", key)).status).toBe(200);
    await app.server.database.pool.query("UPDATE api_keys SET revoked_at = now() WHERE id = $1; ", [
      keyId,
    ]);
    await app.server.database.pool.query(
      "UPDATE tenants SET version = version + 1 WHERE id = 'acme'",
    );
    // The coordinator's refresh (every 200 ms here) is what notices it: the README's bound is
    // that interval plus one reload. How long it took is not asserted: on a busy machine the
    // reload itself waits for a core; the wait below fails only if it never arrives.
    const status = await waitFor(
      async () => {
        const res = await app.call("/v1/quotes", key);
        return res.status === 200 ? undefined : res.status;
      },
      { timeout: 5000, what: "the revocation to reach the coordinator" },
    );
    expect(status).toBe(401);
  });

  test("rules with a zero limit, a negative one or an absurd window are refused when saved", async () => {
    const { app } = await appWithTenant(10);
    for (const bad of [
      { limit: 0, windowMs: 1000 },
      { limit: -1, windowMs: 1000 },
      { limit: 10, windowMs: 10 * MAX_WINDOW_MS },
    ]) {
      const res = await app.admin("PUT", "/api/admin/plans/bad", {
        name: "Bad",
        rules: [{ id: "r", match: { route: "*" }, algorithm: "fixed-window", ...bad }],
      });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("invalid_input");
      expect(res.body.message).toMatch(/^rules\[0\]: (limit|windowMs): /);
    }
    expect(
      (await app.admin("GET", "/api/admin/plans")).body.map((p: { id: string }) => p.id),
    ).not.toContain("bad");
  });

  test("admin sign-in attempts are limited per address by the limiter itself", async () => {
    const { app } = await appWithTenant(10);
    const attempt = (password: string) =>
      fetch(`${app.url}/api/admin/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ password }),
      });
    // appWithTenant signed in once already: 9 more attempts, then the 11th is refused.
    for (let i = 0; i < 9; i++) expect((await attempt("wrong")).status).toBe(401);
    const refused = await attempt("test-admin-password");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("ratelimit-policy")).toBe('"admin-login";q=10;w=900');
    expect(await refused.json()).toMatchObject({ code: "rate_limited" });
    const reserved = await app.admin("POST", "/api/admin/tenants", {
      id: "system",
      name: "Mine",
      planId: "free",
    });
    expect(reserved.status).toBe(400);
  });

  test("the admin password is hashed as troupe/accounts does: NFKC-normalised", async () => {
    // Full-width letters: the same password to a person, and after NFKC normalisation.
    const app = await startTestApp({ adminPassword: "ｆｕｌｌ-ｗｉｄｔｈ-pass" });
    apps.push(app);
    const attempt = async (password: string) =>
      (
        await fetch(`${app.url}/api/admin/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ password }),
        })
      ).status;
    expect(await attempt("full-width-pass")).toBe(200);
    expect(await attempt("ｆｕｌｌ-ｗｉｄｔｈ-pass")).toBe(200);
    expect(await attempt("full-width-pasS")).toBe(401);
  });

  test("admin routes need the admin's token", async () => {
    const { app } = await appWithTenant(10);
    const res = await fetch(`${app.url}/api/admin/tenants`);
    expect(res.status).toBe(401);
    const wrong = await fetch(`${app.url}/api/admin/login`, {
      method: "POST",
      body: JSON.stringify({ password: "nope" }),
    });
    expect(wrong.status).toBe(401);
  });

  test("signing out ends that token on the server, also after a restart; another sign-in stays", async () => {
    const { app } = await appWithTenant(10);
    const signIn = async (url: string) => {
      const res = await fetch(`${url}/api/admin/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ password: TEST_PASSWORD }),
      });
      return ((await res.json()) as { token: string }).token;
    };
    const tenants = (url: string, token: string) =>
      fetch(`${url}/api/admin/tenants`, { headers: { authorization: `Bearer ${token}` } });
    const [laptop, phone] = [await signIn(app.url), await signIn(app.url)];
    expect((await tenants(app.url, laptop)).status).toBe(200);

    const out = await fetch(`${app.url}/api/admin/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${laptop}` },
    });
    expect(out.status).toBe(200);
    const refused = await tenants(app.url, laptop);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string }).code).toBe("admin_required");
    expect((await tenants(app.url, phone)).status).toBe(200);

    // A second server on the same database (a restart) reads the sign-out back from SQL.
    const dataDir = await mkdtemp(join(tmpdir(), "rate-limiter-test-"));
    const again = await startServer({
      hostname: "127.0.0.1",
      port: 0,
      authSecret: TEST_SECRET,
      scrypt: TEST_SCRYPT,
      databaseUrl: app.databaseUrl,
      storage: { driver: "file", path: dataDir },
    });
    try {
      expect((await tenants(again.url, laptop)).status).toBe(401);
      expect((await tenants(again.url, phone)).status).toBe(200);
    } finally {
      await again.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
