/**
 * `troupe/server`: what every template's production start shares, so that no template copies it
 * from another. An app's `server.ts` keeps its own routes and passes its Hono app here.
 *
 * - `chooseActorStorage(env)`: Postgres (its own schema of the app's database) in production,
 *   the file driver in development, `TROUPE_STORAGE` over both.
 * - `healthRoute(pool)`: `/api/health` that reports the database honestly: 200
 *   `{ ok: true, database: "up" }`, or 503 with the reason naming its host:port (and an app's
 *   own fields in both, such as the model it uses: `extra`).
 * - `serveFrontend(app, frontend)`: a Vite build, hashed assets cached for a year, index.html
 *   (no-cache) for every other GET path so client-side routes survive a reload; in development
 *   (`startApp` gives `frontend` as a `DevFrontend`) the same place hands over to Vite.
 * - `listen(app, registry, opts)`: the Node server with the registry's WebSockets, and a `close()`
 *   that drains: it stops accepting connections, stops every actor (their state written, their
 *   connections closed with 1001 "going away", which clients answer by reconnecting, each
 *   actor's `onSleep` flushing what it owes, such as an outbox), then closes what is left and
 *   runs the app's own closers (its database pool).
 * - `stopOnSignals(close)`: SIGTERM and SIGINT run that drain once and exit 0, or exit 1 when it
 *   has not finished within the grace period, before the platform's SIGKILL comes.
 *
 * @example
 * const server = await listen(app, registry, {
 *   port: 8080,
 *   hostname: "0.0.0.0",
 *   onClose: () => pool.end(),
 * });
 * stopOnSignals(server.close, { log: (line) => console.log(`[chat] ${line}`) });
 */
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import { createAdaptorServer, type ServerType } from "@hono/node-server";
import { serveStatic } from "@hono/node-server/serve-static";
import type { Context, Hono } from "hono";
import { checkDatabase, type Queryable } from "../db/reach.js";
import type { StorageOption } from "../storage/open.js";
import { DevFrontend } from "./dev-frontend.js";

export { DevFrontend };

/**
 * Where actor state lives. `TROUPE_STORAGE` wins if set (undefined here lets the runtime read
 * it). In production with a `DATABASE_URL`, the postgres driver in the `troupe` schema of the
 * same database: a platform's disk is often wiped on redeploy, the database is not. Otherwise
 * the file driver under `TROUPE_DATA_DIR` (default `.troupe/data`).
 */
export function chooseActorStorage(
  env: NodeJS.ProcessEnv = process.env,
): StorageOption | undefined {
  if (env.TROUPE_STORAGE) return undefined;
  if (env.NODE_ENV === "production" && env.DATABASE_URL) {
    return { driver: "postgres", connectionString: env.DATABASE_URL, schema: "troupe" };
  }
  return { driver: "file", path: env.TROUPE_DATA_DIR ?? ".troupe/data" };
}

/** How long `/api/health` waits for the database's `SELECT 1` before answering 503. */
export const HEALTH_DATABASE_TIMEOUT_MS = 2000;

export interface HealthOptions {
  /** The pool's connection string, so that the reason names its host:port. */
  url?: string;
  timeoutMs?: number;
  /**
   * The app's own fields, added to both answers after the database's (the AI agent names its
   * model: what a platform's health page then shows beside the outage).
   */
  extra?: Record<string, unknown>;
}

/**
 * A handler for `/api/health` on the app's own pool (what the app sees): a deploy whose
 * database is not there does not go live, and a platform sees an outage.
 */
export function healthRoute(pool: Queryable, opts: HealthOptions = {}) {
  return async (c: Context): Promise<Response> => {
    const db = await checkDatabase(pool, {
      url: opts.url,
      timeoutMs: opts.timeoutMs ?? HEALTH_DATABASE_TIMEOUT_MS,
    });
    if (db.ok) return c.json({ ok: true, database: "up", ...opts.extra });
    return c.json({ ok: false, database: "unreachable", reason: db.reason, ...opts.extra }, 503);
  };
}

/** Cache for files whose name carries a content hash (Vite's `assets/`): they never change. */
export const IMMUTABLE = "public, max-age=31536000, immutable";

/**
 * What the app's routes leave, after them: in production (`frontend` is the directory of a Vite
 * build, holding its `index.html`) static files, and index.html for every other GET path
 * (client-side routes such as `/rooms/:id`); in development (`frontend` is the `DevFrontend`
 * `startApp` gives) every such request goes on to Vite. Mount it after the API routes, and after
 * a JSON 404 for unknown `/api/*` paths. index.html is revalidated on every load so a deploy is
 * picked up at once; the hashed assets it points to are cached for a year.
 */
export function serveFrontend(app: Hono<any>, frontend: string | DevFrontend): void {
  if (frontend instanceof DevFrontend) {
    frontend.markMounted();
    app.all("*", (c) => frontend.handle(c));
    return;
  }
  const dir = frontend;
  const indexHtml = readFileSync(join(dir, "index.html"), "utf8");
  app.use(
    "/assets/*",
    serveStatic({ root: dir, onFound: (_path, c) => c.header("Cache-Control", IMMUTABLE) }),
  );
  // A missing asset (a tab still open from before a deploy) is a 404, not the page: the page
  // would fail to load as a script with a confusing MIME-type error instead.
  app.get("/assets/*", (c) => c.text("Not found", 404));
  app.use(
    "*",
    serveStatic({
      root: dir,
      onFound: (path, c) =>
        c.header("Cache-Control", path.endsWith(".html") ? "no-cache" : "public, max-age=3600"),
    }),
  );
  app.get("*", (c) => {
    c.header("Cache-Control", "no-cache");
    return c.html(indexHtml);
  });
}

/** What `listen` needs of a registry (`setup(...)`). */
export interface ServableRegistry {
  attachWebSockets(server: Server): Promise<{ stopAccepting(): void; close(): void }>;
  close(): Promise<void>;
}

export interface ListenOptions {
  /** 0 picks a free port. */
  port: number;
  /** `0.0.0.0` in production (every interface); `127.0.0.1` for tests. */
  hostname?: string;
  /** The app's own closers, run last (its database pool). */
  onClose?: () => Promise<unknown> | unknown;
}

export interface ListeningServer {
  /** `http://localhost:<port>` (or the hostname it listens on, if not every interface). */
  url: string;
  port: number;
  /** Drains and closes (see the module comment); idempotent. */
  close(): Promise<void>;
}

/** Serves `app` (with the registry mounted in it) and the registry's WebSockets on one port. */
export async function listen(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  registry: ServableRegistry,
  opts: ListenOptions,
): Promise<ListeningServer> {
  // WebSockets are attached before the port opens: a request that reaches the server (a health
  // check that passes, then a client connecting) must find them, not Node's fallback of handing
  // an upgrade nobody listens for to the app as a plain request (a 404, then a retry).
  const server: ServerType = createAdaptorServer({ fetch: app.fetch, hostname: opts.hostname });
  const sockets = await registry.attachWebSockets(server as unknown as Server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${opts.hostname && opts.hostname !== "0.0.0.0" ? opts.hostname : "localhost"}:${port}`,
    port,
    close: () => {
      closing ??= (async () => {
        // No new connections or WebSockets from here on; requests in flight finish.
        sockets.stopAccepting();
        const closed = new Promise<void>((r) => server.close(() => r()));
        // Stops every actor: state written, connections closed with 1001 (clients reconnect),
        // onSleep run (where an actor flushes its outbox).
        await registry.close();
        sockets.close();
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        await closed;
        await opts.onClose?.();
      })();
      return closing;
    },
  };
}

/** Default time a SIGTERM drain may take: under the `drainingSeconds` (10) of the templates' railway.json. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 8000;

/**
 * How long a drain may take: `SHUTDOWN_GRACE_MS`, else one second less than Railway's
 * `RAILWAY_DEPLOYMENT_DRAINING_SECONDS` (the time between its SIGTERM and its SIGKILL), else
 * `DEFAULT_SHUTDOWN_GRACE_MS`.
 */
export function shutdownGraceMs(env: NodeJS.ProcessEnv = process.env): number {
  const explicit = Number(env.SHUTDOWN_GRACE_MS);
  if (env.SHUTDOWN_GRACE_MS && Number.isFinite(explicit) && explicit > 0) return explicit;
  const draining = Number(env.RAILWAY_DEPLOYMENT_DRAINING_SECONDS);
  if (env.RAILWAY_DEPLOYMENT_DRAINING_SECONDS && Number.isFinite(draining) && draining > 0) {
    return Math.max(500, draining * 1000 - 1000);
  }
  return DEFAULT_SHUTDOWN_GRACE_MS;
}

export interface StopOnSignalsOptions {
  /** Default `shutdownGraceMs()`. */
  graceMs?: number;
  /** Where the one line about a drain that ran out of time goes. Default: stderr. */
  log?: (line: string) => void;
  /** Default `process.exit` (tests pass their own). */
  exit?: (code: number) => void;
  /** Default `process`. */
  signals?: Pick<NodeJS.Process, "once">;
}

/**
 * On the first SIGTERM or SIGINT, runs `close` (once) and exits 0 when it is done, or 1 when
 * it has not finished within the grace period or failed: a process stuck in a drain must not
 * wait for the platform's SIGKILL, which would lose what the drain was still writing silently.
 */
export function stopOnSignals(close: () => Promise<unknown>, opts: StopOnSignalsOptions = {}) {
  const graceMs = opts.graceMs ?? shutdownGraceMs();
  const log = opts.log ?? ((line: string) => console.error(line));
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const target = opts.signals ?? process;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => {
      log(`${signal}: the shutdown did not finish within ${graceMs} ms; exiting anyway.`);
      exit(1);
    }, graceMs);
    close().then(
      () => {
        clearTimeout(timer);
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        log(`${signal}: the shutdown failed: ${(err as Error)?.message ?? err}`);
        exit(1);
      },
    );
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) target.once(signal, () => stop(signal));
}

export {
  type AppStartContext,
  type DevFrontendLoader,
  portProblem,
  type StartAppOptions,
  type StartedApp,
  type StartedAppServer,
  startApp,
} from "./app.js";
