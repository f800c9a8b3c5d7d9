// Usage per minute (here: per 500 ms bucket) reaches SQL through the shards' outbox, also for
// traffic decided while the database was unreachable: the limiter keeps deciding from its
// cached configuration, the outbox keeps the rows in actor state and writes them once the
// database is back.
import { captureLogger, startTcpProxy, waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { MAX_WINDOW_MS } from "../src/limiter/rules.js";
import { startTestApp, type TestApp } from "./helpers.js";

const apps: TestApp[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  await Promise.all(closers.splice(0).map((c) => c()));
});

describe("usage rollup", () => {
  test("rows land in SQL after a database outage, counting every decision", async () => {
    const base = new URL(process.env.DATABASE_URL!);
    const proxy = await startTcpProxy(base.hostname, Number(base.port || 5432));
    closers.push(() => proxy.close());
    const logger = captureLogger();
    const app = await startTestApp({
      logger,
      tuning: { usageRollupMs: 200, usageBucketMs: 500, snapshotIntervalMs: 100 },
      databaseUrlThrough: (url) => {
        const through = new URL(url);
        through.hostname = "127.0.0.1";
        through.port = String(proxy.port);
        return through.toString();
      },
    });
    apps.push(app);
    await app.admin("PUT", "/api/admin/plans/small", {
      name: "Small",
      rules: [
        {
          id: "quotes",
          match: { route: "/v1/quotes*", method: "GET" },
          algorithm: "fixed-window",
          limit: 15,
          windowMs: MAX_WINDOW_MS,
        },
      ],
    });
    await app.admin("POST", "/api/admin/tenants", { id: "acme", name: "Acme", planId: "small" });
    const { key } = (await app.admin("POST", "/api/admin/tenants/acme/keys", { name: "k" })).body;

    const send = async (n: number) => {
      const statuses: number[] = [];
      for (let i = 0; i < n; i++) statuses.push((await app.call("/v1/quotes", key)).status);
      return statuses;
    };
    expect(await send(10)).toEqual(new Array(10).fill(200));
    await proxy.cut();
    // The database is gone: decisions go on from the cached tenant.
    const during = await send(10);
    expect(during.filter((s) => s === 200)).toHaveLength(5);
    expect(during.filter((s) => s === 429)).toHaveLength(5);
    // Rollups run and fail meanwhile (a bucket ends every 500 ms): wait for a failed write.
    await waitFor(() => logger.entries.some((e) => e.level === "warn"), {
      what: "a failed write while the database is away",
    });
    await proxy.restore();

    const totals = await waitFor(
      async () => {
        const { rows } = await app.server.database.pool.query<{ allowed: number; limited: number }>(
          "SELECT coalesce(sum(allowed), 0)::int AS allowed, coalesce(sum(limited), 0)::int AS limited FROM usage_minutes WHERE tenant_id = 'acme'",
        );
        const t = rows[0]!;
        return t.allowed + t.limited === 20 ? t : undefined;
      },
      { timeout: 20_000, what: "all 20 decisions in usage_minutes" },
    );
    expect(totals).toEqual({ allowed: 15, limited: 5 });
  });
});
