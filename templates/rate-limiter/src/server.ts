/**
 * The rate limiter's HTTP server on Node: the app of `app.ts` on one port with
 *   /v1/*              the public API (quotes, weather), behind `apiKey()` and `rateLimit()`
 *   /api/admin/*       sign-in, first-run setup (development), plans and their rules, tenants,
 *                      API keys, usage (admin token)
 *   /api/health        for the platform's health check
 *   /api/troupe/*      the actor registry (the limiter's actors refuse every caller from outside;
 *                      `tenantTraffic`, the dashboard's live chart, takes the admin's token)
 *   /*                 the dashboard, when `frontend` is given: the build in production,
 *                      Vite in `dev` (after the routes in both, so they win over its pages)
 *
 * `startServer` is a function, so tests start real servers on random ports with their own
 * database and storage, and restart them.
 */
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";
import type { Logger, StorageOption } from "troupe";
import type { ScryptParams } from "troupe/accounts/password";
import { assertDatabaseReachable } from "troupe/db";
import { type DevFrontend, healthRoute, listen, serveFrontend } from "troupe/server";
import { createRegistry, type LimiterServices } from "./actors/index.js";
import { AdminSessions } from "./admin-auth.js";
import { createApp, seedDatabase } from "./app.js";
import { type Database, openDatabase, runMigrations } from "./db/index.js";
import { Store } from "./db/store.js";
import { Limiter } from "./limiter/limiter.js";
import { DEFAULT_BUDGET_MS } from "./middleware/index.js";
import { SYSTEM_TENANT, withSystemTenant } from "./system-tenant.js";

export { DEFAULT_PLANS } from "./app.js";

export interface ServerOptions {
  port?: number;
  hostname?: string;
  databaseUrl: string;
  storage?: StorageOption;
  /** Signs admin tokens. */
  authSecret: string;
  /** Sets the admin password on the first start (ignored once one is stored). */
  adminPassword?: string;
  /**
   * Refuse to start when no admin password is stored and `adminPassword` is not given (a
   * production start: a service nobody can administer). Default false.
   */
  requireAdmin?: boolean;
  /**
   * The dashboard's first-run form (`POST /api/admin/setup`) while no admin is stored: the first
   * visitor chooses the admin password. Development only (`main.ts` turns it on outside
   * production). Default false.
   */
  firstRunSetup?: boolean;
  scrypt?: ScryptParams;
  /** The middleware's time budget (default 20 ms). */
  budgetMs?: number;
  logger?: Logger;
  tuning?: LimiterServices["tuning"];
  faults?: LimiterServices["faults"];
  /** Behind a proxy: the client address is the last `X-Forwarded-For` entry. Default false. */
  trustProxy?: boolean;
  /**
   * What answers after the routes (`serveFrontend`): the built dashboard (`vite build` output,
   * with its `index.html`) in production, the `DevFrontend` that hands on to Vite in `dev`, so
   * `/v1/*` and `/api/*` are the app's in both. Without it the server is API-only.
   */
  frontend?: string | DevFrontend;
}

export interface RateLimiterServer {
  url: string;
  port: number;
  fetch: (request: Request) => Response | Promise<Response>;
  limiter: Limiter;
  store: Store;
  database: Database;
  /**
   * At start no admin was stored and the first-run form is on (development): the dashboard's
   * first visitor chooses the admin password. `main.ts` says so in its ready line.
   */
  awaitingAdmin: boolean;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RateLimiterServer> {
  await assertDatabaseReachable(opts.databaseUrl);
  const logLine = (msg: string) =>
    opts.logger ? opts.logger.warn(msg) : console.error(`[rate-limiter] ${msg}`);
  const database = openDatabase(opts.databaseUrl, logLine);
  await runMigrations(database);
  const store = new Store(database.db);
  const hasAdmin = await seedDatabase(database.db, store, opts.adminPassword, opts.scrypt).catch(
    async (err: Error) => {
      await database.close();
      throw err;
    },
  );
  if (!hasAdmin && opts.requireAdmin) {
    await database.close();
    throw new Error(
      "ADMIN_PASSWORD is not set and no admin password is stored yet: set ADMIN_PASSWORD (12+ characters) for the first start.",
    );
  }
  const sessions = await AdminSessions.load(database.db, opts.authSecret).catch(async (err) => {
    await database.close();
    throw err;
  });

  const registry = createRegistry(
    {
      tenants: withSystemTenant(store),
      usage: store,
      canWatch: (token) => sessions.verify(token),
      tuning: opts.tuning,
      faults: opts.faults,
    },
    { storage: opts.storage, logger: opts.logger },
  );
  // A server's requests arrive one per event-loop callback: gathered per turn, those read in
  // one turn share one call per actor instead of making one each.
  const limiter = await Limiter.start(registry, { gather: "turn" });
  await limiter.warm(SYSTEM_TENANT);
  const budgetMs = opts.budgetMs ?? DEFAULT_BUDGET_MS;

  const app = createApp({
    db: database.db,
    store,
    limiter,
    sessions,
    authSecret: opts.authSecret,
    budgetMs,
    health: healthRoute(database.pool, { url: opts.databaseUrl }),
    clientAddress: (c) => clientAddress(c, opts.trustProxy ?? false),
    logger: opts.logger,
    registry: (request) => registry.handler(request),
    firstRunSetup: opts.firstRunSetup ?? false,
    scrypt: opts.scrypt,
  });
  if (opts.frontend) serveFrontend(app, opts.frontend);

  // The drain (troupe/server): stop accepting, stop every actor (counters snapshotted, usage
  // flushed through the outbox), then close the pool.
  const server = await listen(app, registry, {
    port: opts.port ?? 0,
    hostname: opts.hostname,
    onClose: () => database.close(),
  });
  return {
    url: server.url,
    port: server.port,
    fetch: app.fetch,
    limiter,
    store,
    database,
    awaitingAdmin: !hasAdmin && (opts.firstRunSetup ?? false),
    close: server.close,
  };
}

/** The caller's address: the socket's, or behind a trusted proxy the one it added. */
function clientAddress(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for")?.split(",").pop()?.trim();
    if (forwarded) return forwarded;
  }
  return getConnInfo(c).remote.address ?? "unknown";
}
