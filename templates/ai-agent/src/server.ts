/**
 * The agent's HTTP server: one Hono app on one port with
 *   /api/troupe/*   the actor registry (HTTP actions and, via attachWebSockets, connections)
 *   /api/auth/*     organisations, invites, sign-in, token refresh and sign-out, and
 *   /api/me, /api/org/*  the caller and their organisation (all `troupe/accounts`)
 *   /api/health     for the platform's health check: 200 when the database answers, 503 naming
 *                   its host:port when not (troupe/server's `healthRoute`), with the model's name
 *   everything else the frontend (`frontend`): in production the build, hashed assets with a
 *                   long cache, index.html for every other path; in dev, Vite; without it
 *                   (tests) `/` is a short page saying what this server is
 *
 * `startAgentServer` is a function, not a side effect of importing this module, so tests start
 * real servers on random ports with their own database and storage, and restart them.
 */
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type Logger, type StorageOption, UserError } from "troupe";
import {
  ACCOUNT_ERROR_STATUS,
  Accounts,
  Auth,
  mountAccountRoutes,
  type ScryptParams,
  SESSION_MAX_LIFETIME_SECONDS,
  SessionRevocations,
} from "troupe/accounts";
import { assertDatabaseReachable } from "troupe/db";
import { bodyLimit } from "troupe/hono";
import {
  chooseActorStorage,
  type DevFrontend,
  healthRoute,
  listen,
  serveFrontend,
} from "troupe/server";
import { type AgentRegistry, createRegistry } from "./actors/index.js";
import type { AgentServices } from "./actors/services.js";
import { type Database, openDatabase, runMigrations } from "./db/index.js";
import { assertProviderReachable, chooseModel, type ModelChoice } from "./model/provider.js";

export interface AgentServerOptions {
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  hostname?: string;
  databaseUrl: string;
  storage?: StorageOption;
  authSecret: string;
  tokenTtlSeconds?: number;
  /** Password hashing cost (default troupe/accounts' `DEFAULT_SCRYPT`; tests lower it). */
  scrypt?: ScryptParams;
  /** Take the client address from `X-Forwarded-For` (behind a proxy); default `TRUST_PROXY=1`. */
  trustProxy?: boolean;
  /** The model; default `chooseModel()` from the environment. */
  model?: ModelChoice;
  logger?: Logger;
  /**
   * What answers after the routes (`serveFrontend`): the built frontend (`dist/public`) in
   * production, the `DevFrontend` that hands on to Vite in `dev`.
   */
  frontend?: string | DevFrontend;
  /**
   * The clock of the actors' alarms, sleep and timeouts (default the system's). Tests pass
   * troupe/test's `ManualClock` to decide when a reminder is due.
   */
  clock?: RegistryClock;
  /** Tunables of the actors (tests shrink them). */
  tuning?: Pick<
    AgentServices,
    | "dailyTokenBudget"
    | "saveIntervalMs"
    | "maxPromptChars"
    | "stallTimeoutMs"
    | "turnBudgetMs"
    | "beforeToolCommit"
  >;
}

type RegistryClock = NonNullable<Parameters<AgentRegistry["ensureRuntime"]>[0]>["clock"];

export interface AgentServer {
  url: string;
  port: number;
  /** The app's fetch handler (the dev server's proxy calls it in-process). */
  fetch: (request: Request) => Response | Promise<Response>;
  registry: AgentRegistry;
  auth: Auth;
  accounts: Accounts;
  database: Database;
  model: ModelChoice;
  close(): Promise<void>;
}

/** Largest request body of the app's own routes; the actor routes have the registry's limit. */
export const MAX_BODY_BYTES = 64 * 1024;
/** HTTP statuses of the account routes' codes; other refusals carry theirs (`err.status`). */
const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = { ...ACCOUNT_ERROR_STATUS };

export { chooseActorStorage };

export async function startAgentServer(opts: AgentServerOptions): Promise<AgentServer> {
  const { logger } = opts;
  const model = opts.model ?? chooseModel();
  // A configured provider that does not answer stops the start (never a silent stand-in).
  await assertProviderReachable(model);
  await assertDatabaseReachable(opts.databaseUrl);
  const database = openDatabase(opts.databaseUrl, logger && ((msg) => logger.warn(msg)));
  await runMigrations(database);
  // Revoked sessions are known in memory (one replica), loaded from SQL here.
  const revocations = new SessionRevocations(SESSION_MAX_LIFETIME_SECONDS * 1000);
  await revocations.load(database.db);
  const auth = new Auth({ secret: opts.authSecret, ttlSeconds: opts.tokenTtlSeconds, revocations });
  const accounts = new Accounts({ db: database.db, auth, scrypt: opts.scrypt });
  const registry = createRegistry(
    {
      auth,
      db: database.db,
      model: model.model,
      modelLabel: model.label,
      ...opts.tuning,
    },
    { storage: opts.storage ?? chooseActorStorage(), logger },
  );
  // The registry's engine starts here with that clock (the first start wins).
  if (opts.clock) await registry.ensureRuntime({ clock: opts.clock });

  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof UserError) {
      const status = STATUS_BY_CODE[err.code] ?? (err.status as ContentfulStatusCode);
      const retryAfter = (err.metadata as { retryAfterSeconds?: unknown } | undefined)
        ?.retryAfterSeconds;
      if (typeof retryAfter === "number") c.header("Retry-After", String(retryAfter));
      return c.json(
        { error: { code: err.code, message: err.message, metadata: err.metadata ?? null } },
        status,
      );
    }
    if (logger) logger.error("[ai-agent] request failed", { error: err });
    else console.error("[ai-agent] request failed:", err);
    return c.json(
      { error: { code: "internal_error", message: "Something went wrong.", metadata: null } },
      500,
    );
  });
  app.all("/api/troupe/*", (c) => registry.handler(c.req.raw));
  app.use("*", bodyLimit({ maxBytes: MAX_BODY_BYTES }));
  app.get(
    "/api/health",
    healthRoute(database.pool, { url: opts.databaseUrl, extra: { model: model.label } }),
  );
  mountAccountRoutes(app, {
    accounts,
    auth,
    trustProxy: opts.trustProxy ?? process.env.TRUST_PROXY === "1",
  });
  app.all("/api/*", (c) =>
    c.json({ error: { code: "not_found", message: "No such API route.", metadata: null } }, 404),
  );
  if (opts.frontend) serveFrontend(app, opts.frontend);
  else app.get("/", (c) => c.html(infoPage(model.label)));

  const server = await listen(app, registry, {
    port: opts.port ?? 3000,
    hostname: opts.hostname,
    // Last, after every actor's onSleep made its last attempt to flush its outbox.
    onClose: () => database.close(),
  });
  return {
    url: server.url,
    port: server.port,
    fetch: app.fetch,
    registry,
    auth,
    accounts,
    database,
    model,
    close: server.close,
  };
}

function infoPage(modelLabel: string): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Troupe AI agent</title>
<style>body{font-family:system-ui,sans-serif;max-width:38rem;margin:4rem auto;padding:0 1rem;color:#1f2937;line-height:1.5}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:.25rem}</style>
</head><body>
<h1>Troupe AI agent</h1>
<p>This server runs the agent's API. The web interface is served by <code>pnpm dev</code> (Vite) and,
after <code>pnpm build</code>, by <code>pnpm start</code>. Or use the typed client
(<code>troupe/client</code>) against the actors <code>agentList</code> (key <code>[userId]</code>) and
<code>agent</code> (key <code>[userId, conversationId]</code>) under <code>/api/troupe</code>, with a token
in the connection params. Tokens come from <code>POST /api/auth/organisations</code>, <code>/api/auth/join</code>
and <code>/api/auth/sign-in</code>. See the template's README.</p>
<p>Model: <strong>${esc(modelLabel)}</strong>.</p>
</body></html>`;
}
