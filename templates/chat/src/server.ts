/**
 * The chat's HTTP server: one Hono app on one port with
 *   /api/troupe/*   the actor registry (HTTP actions and, via attachWebSockets, connections)
 *   /api/auth/*     organisations, invites, sign-in, token refresh and sign-out (src/accounts/)
 *   /api/me, /api/org/*  the caller, the organisation's invite link and members
 *   /api/search     full-text search over the organisation's messages (SQL)
 *   /api/health     for the platform's health check
 *   everything else the built frontend (`frontendDir`): hashed assets with a long cache, and
 *                   index.html for any other GET path, so `/rooms/:id` links work (SPA fallback)
 *
 * `startChatServer` is a function, not a side effect of importing this module, so tests start
 * real servers on random ports with their own database and storage, and restart them.
 */
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { serveStatic } from "@hono/node-server/serve-static";
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type StorageOption, UserError } from "troupe";
import { bodyLimit } from "troupe/hono";
import { z } from "zod";
import { Accounts } from "./accounts/accounts.js";
import type { ScryptParams } from "./accounts/password.js";
import { mountAccountRoutes } from "./accounts/routes.js";
import { type ChatLogger, type ChatRegistry, createRegistry } from "./actors/index.js";
import type { ChatServices } from "./actors/services.js";
import { withoutNul } from "./actors/validation.js";
import { Auth, resolveAuthSecret } from "./auth.js";
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
   * The built frontend (`vite build` output, with its `index.html`) to serve. Without it the
   * server is API-only and `/` says so: in development Vite serves the frontend instead.
   */
  frontendDir?: string;
  /**
   * Where the server's log lines go: the actors' (through Troupe), the database pool's lost
   * connections and failed requests. Default: stderr. Tests pass `captureLogger()` to assert on
   * what they provoke.
   */
  logger?: ChatLogger;
  /** Tunables of the room actor (tests shrink them). */
  tuning?: Pick<
    ChatServices,
    | "recentMessagesInState"
    | "retentionIntervalMs"
    | "typingTtlMs"
    | "maxMembersPerRoom"
    | "maxScheduledPerRoom"
  >;
}

export interface ChatServer {
  url: string;
  port: number;
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
 * Where actor state lives. `TROUPE_STORAGE` wins if set. In production with a `DATABASE_URL`,
 * the postgres driver in its own schema of the same database (a platform's disk is often
 * ephemeral, the database is not). Otherwise the file driver under `.troupe/data`.
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

const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  auth_required: 401,
  token_expired: 401,
  invalid_token: 401,
  invalid_credentials: 401,
  session_revoked: 401,
  account_removed: 401,
  forbidden: 403,
  not_found: 404,
  invite_invalid: 404,
  invite_expired: 410,
  org_taken: 409,
  login_taken: 409,
  too_many_attempts: 429,
};

export async function startChatServer(opts: ChatServerOptions): Promise<ChatServer> {
  const { logger } = opts;
  const database = openDatabase(opts.databaseUrl, logger && ((msg) => logger.warn(msg)));
  await runMigrations(database);
  const auth = new Auth({
    secret: opts.authSecret ?? resolveAuthSecret(),
    ttlSeconds: opts.tokenTtlSeconds,
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
      const status = STATUS_BY_CODE[err.code] ?? 400;
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

  app.get("/api/health", async (c) => {
    const dbOk = await database.pool
      .query("SELECT 1")
      .then(() => true)
      .catch(() => false);
    // The app serves from actor state while the database is away: still healthy.
    return c.json({ ok: true, database: dbOk ? "up" : "unreachable" });
  });

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

  if (opts.frontendDir) {
    serveFrontend(app, opts.frontendDir);
  } else {
    app.get("/", (c) => c.html(API_ONLY_PAGE));
  }

  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        port: opts.port ?? (process.env.PORT ? Number(process.env.PORT) : 3000),
        hostname: opts.hostname,
      },
      () => resolve(s),
    );
    s.once("error", reject);
  });
  const sockets = await registry.attachWebSockets(server as unknown as Server);
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${opts.hostname && opts.hostname !== "0.0.0.0" ? opts.hostname : "localhost"}:${port}`,
    port,
    registry,
    auth,
    accounts,
    database,
    close: () => {
      closing ??= (async () => {
        sockets.stopAccepting();
        const closed = new Promise<void>((r) => server.close(() => r()));
        // Stops every actor: each room's onSleep makes a last attempt to flush its outbox.
        await registry.close();
        sockets.close();
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        await closed;
        await database.close();
      })();
      return closing;
    },
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

/** Cache for files whose name carries a content hash (Vite's `assets/`): they never change. */
const IMMUTABLE = "public, max-age=31536000, immutable";

/**
 * Static files of the built frontend, and index.html for every other GET path (client-side
 * routes such as `/rooms/:id`). index.html is revalidated on every load so a deploy is picked up
 * at once; the hashed assets it points to are cached for a year.
 */
function serveFrontend(app: Hono, dir: string): void {
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
