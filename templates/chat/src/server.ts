/**
 * The chat's HTTP server: one Hono app on one port with
 *   /api/troupe/*   the actor registry (HTTP actions and, via attachWebSockets, connections)
 *   /api/auth/*     organisations, invites, sign-in, token refresh and sign-out (troupe/accounts)
 *   /api/me, /api/org/*  the caller, the organisation's invite link and members
 *   /api/search     full-text search over the organisation's messages (SQL)
 *   /api/health     for the platform's health check
 *   everything else the frontend (`frontend`): the build's hashed assets with a long cache, and
 *                   index.html for any other GET path, so `/rooms/:id` links work (SPA
 *                   fallback); in `dev`, Vite
 *
 * `startChatServer` is a function, not a side effect of importing this module, so tests start
 * real servers on random ports with their own database and storage, and restart them.
 */
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type StorageOption, UserError } from "troupe";
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
import { z } from "zod";
import { type ChatLogger, type ChatRegistry, createRegistry } from "./actors/index.js";
import type { ChatServices } from "./actors/services.js";
import { withoutNul } from "./actors/validation.js";
import { resolveAuthSecret } from "./auth.js";
import { type Database, openDatabase, runMigrations } from "./db/index.js";

export interface ChatServerOptions {
  /** Port to listen on; 0 picks a free one. Default `PORT`, else 3000. */
  port?: number;
  hostname?: string;
  /** Postgres for the app's tables. Required. */
  databaseUrl: string;
  /** Actor storage. Default: see `chooseActorStorage`. */
  storage?: StorageOption;
  /** Default `AUTH_SECRET` (generated in development). */
  authSecret?: string;
  tokenTtlSeconds?: number;
  /** Password hashing cost (default `DEFAULT_SCRYPT`; tests lower it to stay quick). */
  scrypt?: ScryptParams;
  /** How long an invite link works (default 7 days). */
  inviteTtlSeconds?: number;
  /** Take the client address from `X-Forwarded-For` (behind a proxy); default `TRUST_PROXY=1`. */
  trustProxy?: boolean;
  /**
   * What answers after the routes (`serveFrontend`): the built frontend (`vite build` output,
   * with its `index.html`) in production, the `DevFrontend` that hands on to Vite in `dev`.
   * Without it the server is API-only and `/` says so.
   */
  frontend?: string | DevFrontend;
  /**
   * Where the server's log lines go: the actors' (through Troupe), the database pool's lost
   * connections and failed requests. Default: stderr. Tests pass `captureLogger()` to assert on
   * what they provoke.
   */
  logger?: ChatLogger;
  /** Tunables of the room and room list actors (tests shrink them). */
  tuning?: Pick<
    ChatServices,
    | "recentMessagesInState"
    | "retentionIntervalMs"
    | "typingTtlMs"
    | "maxMembersPerRoom"
    | "maxScheduledPerRoom"
    | "maxRoomsPerOrg"
  >;
}

export interface ChatServer {
  url: string;
  port: number;
  /** The app's request handler, which the server listens with (`dev` mounts it in Vite). */
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>;
  registry: ChatRegistry;
  auth: Auth;
  accounts: Accounts;
  database: Database;
  close(): Promise<void>;
}

/** Largest page of search results. */
export const MAX_SEARCH_PAGE = 50;
/**
 * Largest request body of the app's own routes (sign-in and the like take a few hundred bytes).
 * The actor routes under /api/troupe have the registry's own limit (1 MiB).
 */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Statuses of the app's own codes. Refusals of credentials are `Unauthorized` (401) and of
 * permissions `Forbidden` (403), whose status travels with the error (`err.status`), the same on
 * these routes as on the actor routes.
 */
const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = { ...ACCOUNT_ERROR_STATUS };

export async function startChatServer(opts: ChatServerOptions): Promise<ChatServer> {
  const { logger } = opts;
  // First, so that a wrong or dead DATABASE_URL fails the start with one sentence naming the
  // host:port (and not with the first migration's "Failed query: CREATE SCHEMA …").
  await assertDatabaseReachable(opts.databaseUrl);
  const database = openDatabase(opts.databaseUrl, logger && ((msg) => logger.warn(msg)));
  await runMigrations(database);
  // Revoked sessions are known in memory (one replica; see troupe/accounts' revocations.ts), loaded from SQL here.
  const revocations = new SessionRevocations(SESSION_MAX_LIFETIME_SECONDS * 1000);
  await revocations.load(database.db);
  const auth = new Auth({
    secret: opts.authSecret ?? resolveAuthSecret(),
    ttlSeconds: opts.tokenTtlSeconds,
    revocations,
  });
  const accounts = new Accounts({
    db: database.db,
    auth,
    scrypt: opts.scrypt,
    inviteTtlSeconds: opts.inviteTtlSeconds,
  });
  const registry = createRegistry(
    { auth, db: database.db, ...opts.tuning },
    { storage: opts.storage ?? chooseActorStorage(), logger },
  );

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
    if (logger) logger.error("[chat] request failed", { error: err });
    else console.error("[chat] request failed:", err);
    return c.json(
      { error: { code: "internal_error", message: "Something went wrong.", metadata: null } },
      500,
    );
  });

  app.all("/api/troupe/*", (c) => registry.handler(c.req.raw));
  // Every other route, including ones added later and paths no route serves.
  const limitBody = bodyLimit({ maxBytes: MAX_BODY_BYTES });
  // Registered after the actor route on purpose: that route answers without calling next, so
  // the actor API keeps the registry's own (larger) limit and every other route gets this one.
  app.use("*", limitBody);

  // Sign-in, search and history need the database, and a deploy must not go live without
  // one: unhealthy while it is away (live rooms keep working from actor state meanwhile).
  app.get("/api/health", healthRoute(database.pool, { url: opts.databaseUrl }));

  mountAccountRoutes(app, {
    accounts,
    auth,
    trustProxy: opts.trustProxy ?? process.env.TRUST_PROXY === "1",
  });

  app.get("/api/search", async (c) => {
    const user = await auth.fromRequest(c);
    const query = searchQuery.safeParse({
      q: c.req.query("q"),
      cursor: c.req.query("cursor"),
      limit: c.req.query("limit"),
    });
    if (!query.success) {
      throw new UserError(query.error.issues[0]?.message ?? "Invalid search.", {
        code: "invalid_input",
      });
    }
    return c.json(await search(database, user.org, query.data));
  });

  // Unknown API paths get a JSON 404, not the frontend's index.html.
  app.all("/api/*", (c) =>
    c.json({ error: { code: "not_found", message: "No such API route.", metadata: null } }, 404),
  );

  if (opts.frontend) {
    serveFrontend(app, opts.frontend);
  } else {
    app.get("/", (c) => c.html(API_ONLY_PAGE));
  }

  const server = await listen(app, registry, {
    port: opts.port ?? (process.env.PORT ? Number(process.env.PORT) : 3000),
    hostname: opts.hostname,
    // Last, after every room's onSleep made its last attempt to flush its outbox.
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
    close: server.close,
  };
}

const searchQuery = z.object({
  q: withoutNul(
    z
      .string({ error: "Add a search query: ?q=" })
      .trim()
      .min(1, "Add a search query: ?q=")
      .max(200, "A search query is at most 200 characters."),
    "A search query",
  ),
  cursor: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_SEARCH_PAGE).default(20),
});

const cursorShape = z.tuple([z.number(), withoutNul(z.string(), "A cursor")]);

function decodeCursor(cursor: string | undefined): [number, string] | undefined {
  if (!cursor) return undefined;
  try {
    return cursorShape.parse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
  } catch {
    throw new UserError("This search cursor is not valid.", { code: "invalid_input" });
  }
}

/** Newest matches first, keyset-paginated by (created_at, id). */
async function search(
  database: Database,
  orgId: string,
  q: z.output<typeof searchQuery>,
): Promise<{ results: SearchResult[]; nextCursor: string | null }> {
  const after = decodeCursor(q.cursor);
  const tsQuery = sql`websearch_to_tsquery('english', ${q.q})`;
  const { rows } = await database.db.execute<{
    id: string;
    room_id: string;
    room_name: string | null;
    seq: string;
    author_id: string;
    author_name: string;
    text: string;
    created_at_ms: string;
    snippet: string;
  }>(sql`
    SELECT m.id, m.room_id, r.name AS room_name, m.seq, m.author_id, m.author_name, m.text,
           (extract(epoch FROM m.created_at) * 1000)::bigint AS created_at_ms,
           ts_headline('english', m.text, ${tsQuery}, 'StartSel=<<,StopSel=>>,MaxWords=20') AS snippet
    FROM messages m LEFT JOIN rooms r ON r.id = m.room_id
    WHERE m.org_id = ${orgId}
      AND m.deleted_at IS NULL
      AND r.deleted_at IS NULL
      AND m.search @@ ${tsQuery}
      ${after ? sql`AND (m.created_at, m.id) < (to_timestamp(${after[0]} / 1000.0), ${after[1]})` : sql``}
    ORDER BY m.created_at DESC, m.id DESC
    LIMIT ${q.limit + 1}`);
  const page = rows.slice(0, q.limit).map(
    (r): SearchResult => ({
      id: r.id,
      roomId: r.room_id,
      roomName: r.room_name,
      seq: Number(r.seq),
      authorId: r.author_id,
      authorName: r.author_name,
      text: r.text,
      snippet: r.snippet,
      createdAt: Number(r.created_at_ms),
    }),
  );
  const last = page.at(-1);
  return {
    results: page,
    nextCursor:
      rows.length > q.limit && last
        ? Buffer.from(JSON.stringify([last.createdAt, last.id])).toString("base64url")
        : null,
  };
}

export interface SearchResult {
  id: string;
  roomId: string;
  roomName: string | null;
  seq: number;
  authorId: string;
  authorName: string;
  text: string;
  /** The text around the match, matches between `<<` and `>>`. */
  snippet: string;
  createdAt: number;
}

const API_ONLY_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Troupe chat</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2937}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:.25rem}</style>
</head><body>
<h1>Troupe chat</h1>
<p>This server runs the API only (no built frontend was given to it). Run <code>pnpm dev</code> for the web interface with hot reload, or <code>pnpm build</code> then <code>pnpm start</code>. The API:</p>
<ul>
<li><code>POST /api/auth/organisations</code> with <code>{ "orgName", "displayName", "login", "password" }</code>, <code>POST /api/auth/join</code> with an invite <code>code</code>, <code>POST /api/auth/sign-in</code> with <code>{ "org", "login", "password" }</code></li>
<li>actors <code>chatRoomList</code> and <code>chatRoom</code> under <code>/api/troupe</code></li>
<li><code>GET /api/search?q=</code> with <code>Authorization: Bearer &lt;token&gt;</code></li>
</ul>
</body></html>`;
