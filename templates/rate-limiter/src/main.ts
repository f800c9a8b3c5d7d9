/**
 * Entry point of `pnpm dev` and `pnpm start`: `troupe/server`'s `startApp` checks the settings,
 * resolves the database, starts the server and prints `[rate-limiter] ready on <url>` (the
 * first line on stdout, which the tests that start this as a child process read); every start
 * failure is one line, `[rate-limiter] could not start: …`, and exit code 1.
 *
 * - `start` (`node dist/server/main.js`, this file built by `pnpm build`; NODE_ENV=production):
 *   the API and the built dashboard (`dist/public/`) on `0.0.0.0:$PORT`, actor state in Postgres
 *   (schema `troupe`). `DATABASE_URL` and `AUTH_SECRET` are required, and `ADMIN_PASSWORD` on a
 *   first start (no admin stored yet): without one, or without the built dashboard, it refuses
 *   to start with one sentence saying so and exit code 1. The build
 *   compiles production in, so a stray NODE_ENV cannot turn it into a development server.
 * - `dev` (tsx): `DATABASE_URL` or an embedded Postgres under /var/tmp/troupe-pg (troupe/db);
 *   actor state in `.troupe/data`; `AUTH_SECRET` generated and kept in .troupe/. The API on an
 *   internal port, and Vite (the dashboard with hot reload) on `$PORT` in front of it.
 * - `ADMIN_PASSWORD` (12+ characters): the admin's password, stored hashed on the first start.
 *   Required on a production first start; in development it is optional: without it the
 *   dashboard's first visitor chooses the password (the first-run form, `POST /api/admin/setup`,
 *   which exists only outside production).
 * - `PORT` (default 3000); `HOST` (development only, default 127.0.0.1).
 * - `API_ONLY=1` (development only): no Vite, the API alone on `PORT` (tests start it so).
 * - `BUDGET_MS`: the middleware's time budget (default 20).
 * - `USAGE_ROLLUP_MS`: how often finished minutes of usage go to SQL (default 60000).
 * - `TRUST_PROXY=1`: behind a proxy (Railway), the client address is the last X-Forwarded-For.
 *
 * SIGTERM and SIGINT drain: no new connections, every actor stopped with its counters
 * snapshotted and its usage flushed, the pool closed, exit 0.
 */
import { resolveAuthSecret } from "troupe/secret";
import { startApp } from "troupe/server";
import { startServer } from "./server.js";

const built = process.env.TROUPE_RATE_LIMITER_BUILT === "1";

await startApp({
  name: "rate-limiter",
  built,
  devWatchVariable: "RATE_LIMITER_DEV_WATCH",
  database: {
    embeddedName: "rate-limiter-template",
    need: "the rate limiter needs a PostgreSQL database for its tenants, keys and usage",
  },
  // The dashboard: dist/public, beside dist/server once built, under the package from source.
  frontendDir: new URL(built ? "../public" : "../dist/public", import.meta.url),
  // Left out of the build (the flag is a constant there): production never loads Vite.
  // API_ONLY=1: the API alone on $PORT, as the tests that start this file want.
  devFrontend:
    built || process.env.API_ONLY === "1"
      ? undefined
      : () => Promise.all([import("troupe/vite"), import("../vite.config.js")]),
  config: (env) => {
    const usageRollupMs = env.USAGE_ROLLUP_MS ? Number(env.USAGE_ROLLUP_MS) : undefined;
    if (
      usageRollupMs !== undefined &&
      !(Number.isInteger(usageRollupMs) && usageRollupMs >= 1000)
    ) {
      throw new Error("USAGE_ROLLUP_MS must be a whole number of milliseconds, 1000 or more.");
    }
    const snapshotIntervalMs = env.SNAPSHOT_INTERVAL_MS
      ? Number(env.SNAPSHOT_INTERVAL_MS)
      : undefined;
    return {
      authSecret: resolveAuthSecret(env, ".troupe/dev-auth-secret", "rate-limiter"),
      adminPassword: env.ADMIN_PASSWORD,
      budgetMs: env.BUDGET_MS ? Number(env.BUDGET_MS) : undefined,
      trustProxy: env.TRUST_PROXY === "1",
      tuning: {
        ...(snapshotIntervalMs ? { snapshotIntervalMs } : {}),
        ...(usageRollupMs ? { usageRollupMs } : {}),
      },
    };
  },
  start: ({ config, production, ...where }) =>
    // Production refuses a first start without ADMIN_PASSWORD; development lets the first
    // visitor of the dashboard choose the password instead (the first-run form).
    startServer({ ...where, ...config, requireAdmin: production, firstRunSetup: !production }),
  // On a first start in development: `[rate-limiter] ready on <url> (no admin yet: …)`, which
  // the root `pnpm dev` shows in its table of URLs.
  readyNote: (server) =>
    server.awaitingAdmin ? "no admin yet: the first visit chooses the admin password" : "",
});
