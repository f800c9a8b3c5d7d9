/**
 * The rate limiter on Cloudflare Workers: the same routes (`app.ts`), middleware and actors as
 * on Node, with `troupe/cloudflare`'s `createHandler`: each actor (a tenant's coordinator, its
 * shards, its traffic) is one Durable Object, and the Worker routes `/api/troupe/*` to them.
 * Postgres is reached with `pg` over Workers' TCP sockets (`nodejs_compat`), through Hyperdrive
 * when the `HYPERDRIVE` binding exists, else at `DATABASE_URL`.
 *
 * A Worker may not share a connection between requests, nor a Durable Object with another one,
 * so the Worker opens a small pool per request (ended once the answer is out) and the actors'
 * SQL opens one per call (Hyperdrive keeps the real connections warm). Migrations and the first
 * admin password are not applied here (a Worker has no files to read them from): run
 * `pnpm db:setup` against the database first (README, "Deploy to Cloudflare").
 *
 * Bindings and variables (wrangler.jsonc, secrets with `wrangler secret put`):
 * - `ACTOR_DO`: the Durable Object namespace of `ActorHandler`.
 * - `HYPERDRIVE` (optional) or `DATABASE_URL` (secret): the database.
 * - `AUTH_SECRET` (secret, 32+ characters): signs admin tokens.
 * - `BUDGET_MS` (optional): the middleware's time budget (default 1000 here: see below).
 * - `USAGE_ROLLUP_MS`, `SNAPSHOT_INTERVAL_MS` (optional): as on Node; `USAGE_BUCKET_MS` shortens
 *   the usage bucket from a minute, `LEASE_BATCH` and `CONFIG_REFRESH_MS` set the tunables of
 *   the same names (`actors/services.ts`; tests).
 */
import { env as workerEnv } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/node-postgres";
import type { Context } from "hono";
import pg from "pg";
import type { Client } from "troupe/client";
import { type CloudflareHandler, createHandler } from "troupe/cloudflare";
import {
  createRegistry,
  type LimiterRegistry,
  type TenantSource,
  type UsageSink,
} from "./actors/index.js";
import { AdminSessions, readAdminToken } from "./admin-auth.js";
import { createApp } from "./app.js";
import type { Db } from "./db/index.js";
import * as schema from "./db/schema.js";
import { Store } from "./db/store.js";
import { Limiter } from "./limiter/limiter.js";
import { withSystemTenant } from "./system-tenant.js";

/**
 * The middleware's default time budget here (on Node 20 ms). Cloudflare may evict a Durable
 * Object, nothing wakes the shards at start, and a shard or coordinator woken by a request first
 * loads its tenant from SQL: far more than 20 ms, and a check that misses the budget follows its
 * rule's fail mode (uncounted, or 503). A second covers a wake-up.
 */
const WORKER_BUDGET_MS = 1000;

interface Settings {
  databaseUrl: string;
  authSecret: string;
  budgetMs: number;
}

/** The Worker's settings from its bindings; a missing or bad one is an error saying which. */
function settingsOf(env: Record<string, unknown>): Settings {
  const hyperdrive = env.HYPERDRIVE as { connectionString?: string } | undefined;
  const databaseUrl = hyperdrive?.connectionString ?? env.DATABASE_URL;
  if (typeof databaseUrl !== "string" || !databaseUrl) {
    throw new Error(
      "The rate limiter needs its database: bind Hyperdrive as HYPERDRIVE or set the DATABASE_URL secret.",
    );
  }
  const authSecret = env.AUTH_SECRET;
  if (typeof authSecret !== "string" || authSecret.length < 32) {
    throw new Error("AUTH_SECRET must be set (32+ characters): wrangler secret put AUTH_SECRET.");
  }
  const budget = env.BUDGET_MS === undefined ? WORKER_BUDGET_MS : Number(env.BUDGET_MS);
  if (!Number.isInteger(budget) || budget < 1) {
    throw new Error("BUDGET_MS must be a whole number of milliseconds, 1 or more.");
  }
  return { databaseUrl, authSecret, budgetMs: budget };
}

function openPool(url: string): { pool: pg.Pool; db: Db } {
  const pool = new pg.Pool({ connectionString: url, max: 3 });
  return { pool, db: drizzle(pool, { schema }) };
}

/** Runs `fn` on a pool of its own, ended afterwards (the actors' SQL, in a Durable Object). */
async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const { pool, db } = openPool(settingsOf(workerEnv).databaseUrl);
  try {
    return await fn(new Store(db));
  } finally {
    await pool.end();
  }
}

/** Tenants and usage in SQL for the actors, a connection per call. */
const sql: TenantSource & UsageSink = {
  load: (tenantId) => withStore((s) => s.load(tenantId)),
  version: (tenantId) => withStore((s) => s.version(tenantId)),
  write: (rows) => withStore((s) => s.write(rows)),
};

/** A whole number (of ms, by default) from a variable, at least `min`; undefined when unset. */
function wholeVar(name: string, min: number, unit = "milliseconds"): number | undefined {
  const raw = workerEnv[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be a whole number of ${unit}, ${min} or more.`);
  }
  return value;
}

const registry = createRegistry({
  tenants: withSystemTenant(sql),
  usage: sql,
  tuning: Object.fromEntries(
    Object.entries({
      usageRollupMs: wholeVar("USAGE_ROLLUP_MS", 100),
      usageBucketMs: wholeVar("USAGE_BUCKET_MS", 100),
      snapshotIntervalMs: wholeVar("SNAPSHOT_INTERVAL_MS", 100),
      configRefreshMs: wholeVar("CONFIG_REFRESH_MS", 100),
      leaseBatch: wholeVar("LEASE_BATCH", 1, "tokens"),
    }).filter(([, v]) => v !== undefined),
  ),
  // The live chart's watchers: a valid, unexpired admin token. (Sign-outs are checked by the
  // admin routes, which read them from SQL; the chart's actor does not.)
  canWatch: (token) => readAdminToken(settingsOf(workerEnv).authSecret, token) !== null,
});

/** Only the admin routes past sign-in look at sessions; the others get none. */
const NO_SESSIONS = { verify: () => false, signOut: async () => false };

const { handler, ActorHandler }: CloudflareHandler = createHandler(registry, {
  fetch: async (request, env, ctx) => {
    let settings: Settings;
    try {
      settings = settingsOf(env);
    } catch (err) {
      console.error(`[rate-limiter] ${(err as Error).message}`);
      return Response.json(
        { code: "misconfigured", message: "The service is not configured: read the Worker logs." },
        { status: 500 },
      );
    }
    const { pool, db } = openPool(settings.databaseUrl);
    try {
      const path = new URL(request.url).pathname;
      const admin = path.startsWith("/api/admin/") && path !== "/api/admin/login";
      const app = createApp({
        db,
        store: new Store(db),
        limiter: new Limiter(
          env.TROUPE as unknown as Client<LimiterRegistry>,
          registry.tuning.shardsPerTenant,
        ),
        sessions: admin ? await AdminSessions.load(db, settings.authSecret) : NO_SESSIONS,
        authSecret: settings.authSecret,
        budgetMs: settings.budgetMs,
        health: async (c) => {
          try {
            await pool.query("SELECT 1");
            return c.json({ ok: true, database: "up" });
          } catch (err) {
            return c.json(
              { ok: false, database: "unreachable", reason: (err as Error).message },
              503,
            );
          }
        },
        // Cloudflare puts the client's address in this header.
        clientAddress: (c: Context) => c.req.header("cf-connecting-ip") ?? "unknown",
      });
      return await app.fetch(request);
    } finally {
      ctx.waitUntil(pool.end());
    }
  },
});

export { ActorHandler, handler as default };
