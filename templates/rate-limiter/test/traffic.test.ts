// The live chart's source over the real app: only the admin's token may watch a tenant's
// traffic (the limiter's own actors stay closed even to it), and the `second` events the
// dashboard draws add up to exactly the requests the public API allowed and limited.
import { createClient } from "troupe/client";
import { waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import type { LimiterRegistry, TrafficSecond } from "../src/actors/index.js";
import { MAX_WINDOW_MS } from "../src/limiter/rules.js";
import { startTestApp, TEST_PASSWORD, type TestApp } from "./helpers.js";

const apps: TestApp[] = [];
const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(disposers.splice(0).map((d) => d()));
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function setUp() {
  // Snapshots (which move the counts the reports read) ten times per report: what a snapshot
  // takes before a report has seen it must still be reported once.
  const app = await startTestApp({ tuning: { snapshotIntervalMs: 100 } });
  apps.push(app);
  expect(
    (
      await app.admin("PUT", "/api/admin/plans/small", {
        name: "Small",
        rules: [
          {
            id: "quotes",
            match: { route: "/v1/quotes*", method: "GET" },
            algorithm: "fixed-window",
            limit: 10,
            windowMs: MAX_WINDOW_MS,
          },
        ],
      })
    ).status,
  ).toBe(200);
  expect(
    (await app.admin("POST", "/api/admin/tenants", { id: "acme", name: "Acme", planId: "small" }))
      .status,
  ).toBe(201);
  const key = (await app.admin("POST", "/api/admin/tenants/acme/keys", { name: "ci" })).body
    .key as string;
  const login = await fetch(`${app.url}/api/admin/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ password: TEST_PASSWORD }),
  });
  const { token } = (await login.json()) as { token: string };
  const client = createClient<LimiterRegistry>(`${app.url}/api/troupe`);
  disposers.push(() => client.dispose());
  return { app, key, token, client };
}

describe("watching a tenant's live traffic", () => {
  test("needs the admin's token; the limiter's own actors and `report` refuse even that", async () => {
    const { client, token } = await setUp();
    await expect(client.tenantTraffic.getOrCreate(["acme"]).recent()).rejects.toMatchObject({
      code: "admin_required",
    });
    await expect(
      client.tenantTraffic.getOrCreate(["acme"], { params: { token: `${token}x` } }).recent(),
    ).rejects.toMatchObject({ code: "admin_required" });
    await expect(
      client.tenantTraffic.getOrCreate(["acme"], { params: { token } }).recent(),
    ).resolves.toBeInstanceOf(Array);
    await expect(
      client.limiterShard.getOrCreate(["acme", "0"], { params: { token } } as never).stats(),
    ).rejects.toMatchObject({ code: "internal_actor" });
    // The admin watches; only the shards report (no fake points on the chart).
    await expect(
      client.tenantTraffic.getOrCreate(["acme"], { params: { token } }).report([["quotes", 99, 0]]),
    ).rejects.toMatchObject({ code: "internal_action" });
  });

  test("the seconds broadcast add up to exactly what the API allowed and limited", async () => {
    const { app, client, key, token } = await setUp();
    const conn = client.tenantTraffic.getOrCreate(["acme"], { params: { token } }).connect();
    const seen: TrafficSecond[] = [];
    conn.on("second", (s: TrafficSecond) => seen.push(s));
    await waitFor(() => conn.status === "connected", { what: "the connection" });
    // The events flow while the chart is open, with or without traffic.
    await waitFor(() => seen.length > 0, { timeout: 15_000, what: "an empty second" });

    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) {
      const res = await app.call("/v1/quotes", key);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);

    const totals = () => {
      const t = { allowed: 0, limited: 0 };
      for (const s of seen) {
        t.allowed += s.rules.quotes?.allowed ?? 0;
        t.limited += s.rules.quotes?.limited ?? 0;
      }
      return t;
    };
    await waitFor(() => totals().allowed + totals().limited >= 25, {
      timeout: 20_000,
      interval: 100,
      what: "the requests in the broadcast seconds",
    });
    expect(totals()).toEqual({ allowed: 10, limited: 15 });
    // Seconds arrive in order, one each.
    const ts = seen.map((s) => s.t);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(new Set(ts).size).toBe(ts.length);
    // A dashboard opened now gets the same seconds from `recent()`.
    const recent = await client.tenantTraffic.getOrCreate(["acme"], { params: { token } }).recent();
    const inRecent = recent.reduce((a, s) => a + (s.rules.quotes?.allowed ?? 0), 0);
    expect(inRecent).toBe(10);
  });
});
