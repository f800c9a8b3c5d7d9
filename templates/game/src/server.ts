/**
 * The game's HTTP server: one Hono app on one port with
 *   /api/troupe/*          the actor registry (HTTP actions and, via attachWebSockets, connections)
 *   POST /api/guest        a guest token for a name: the player's identity
 *   GET /api/leaderboard   the best players by rating (SQL)
 *   GET /api/players/:id   one player's rating, games, wins and recent matches (SQL)
 *   GET /api/health        for the platform's health check
 *   everything else        the frontend (`frontend`): in production the build, hashed assets
 *                          with a long cache, index.html for other paths (`/leaderboard`); in
 *                          `dev`, Vite; without it (tests) `/` says what this is
 *
 * `startGameServer` is a function, not a side effect of importing this module, so tests start
 * real servers on random ports with their own database and storage, and restart them.
 */
import { randomUUID } from "node:crypto";
import { desc, eq, gt } from "drizzle-orm";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type Logger, type StorageOption, UserError } from "troupe";
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
import { createRegistry, type GameRegistry } from "./actors/index.js";
import type { GameServices } from "./actors/services.js";
import { Auth, resolveAuthSecret } from "./auth.js";
import { type Database, openDatabase, runMigrations } from "./db/index.js";
import { matches, matchPlayers, players } from "./db/schema.js";

export interface GameServerOptions {
  /** Port to listen on; 0 picks a free one. Default `PORT`, else 3000. */
  port?: number;
  hostname?: string;
  /** Postgres for the app's tables. Required. */
  databaseUrl: string;
  /** Actor storage. Default: see `chooseActorStorage`. */
  storage?: StorageOption;
  /** Default `AUTH_SECRET` (generated in development). */
  authSecret?: string;
  /** Where log lines go (the actors', the pool's, failed requests). Default: stderr. */
  logger?: Logger;
  /** Timings and sizes of matchmaking and matches (tests shrink them). */
  tuning?: GameServices["tuning"];
  botBrain?: GameServices["botBrain"];
  /**
   * What answers after the routes (`serveFrontend`): the built frontend (`dist/public`) in
   * production, the `DevFrontend` that hands on to Vite in `dev`. Without it `/` is a page about
   * the API.
   */
  frontend?: string | DevFrontend;
  /** Told about every tick of every match (`bench:game`); unset by default. */
  onTick?: GameServices["onTick"];
}

export interface GameServer {
  url: string;
  port: number;
  registry: GameRegistry;
  auth: Auth;
  database: Database;
  /** The app's request handler (the dev server answers `/api` with it in-process). */
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>;
  close(): Promise<void>;
}

/** Largest body of the app's own routes (a guest name is a few bytes). */
export const MAX_BODY_BYTES = 16 * 1024;
/** Rows of the leaderboard. */
export const LEADERBOARD_SIZE = 50;

const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  auth_required: 401,
  token_expired: 401,
  invalid_token: 401,
  player_not_found: 404,
  not_found: 404,
};

/** 1 to 20 characters once trimmed, printable (no control characters: SQL refuses NUL). */
export const guestName = z
  .string({ error: "Pick a name." })
  .trim()
  .min(1, "Pick a name.")
  .max(20, "A name is at most 20 characters.")
  .refine((s) => !/\p{Cc}/u.test(s), "A name cannot contain control characters.");

export async function startGameServer(opts: GameServerOptions): Promise<GameServer> {
  const { logger } = opts;
  // First, so that a wrong or dead DATABASE_URL fails the start with one sentence naming the
  // host:port (and not with the first migration's "Failed query: CREATE SCHEMA …").
  await assertDatabaseReachable(opts.databaseUrl);
  const database = openDatabase(opts.databaseUrl, logger && ((msg) => logger.warn(msg)));
  await runMigrations(database);
  const auth = new Auth(opts.authSecret ?? resolveAuthSecret());
  const registry = createRegistry(
    { auth, db: database.db, tuning: opts.tuning, botBrain: opts.botBrain, onTick: opts.onTick },
    { storage: opts.storage ?? chooseActorStorage(), logger },
  );

  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof UserError) {
      return c.json(
        { error: { code: err.code, message: err.message, metadata: err.metadata ?? null } },
        STATUS_BY_CODE[err.code] ?? 400,
      );
    }
    if (logger) logger.error("[game] request failed", { error: err });
    else console.error("[game] request failed:", err);
    return c.json(
      { error: { code: "internal_error", message: "Something went wrong.", metadata: null } },
      500,
    );
  });

  app.all("/api/troupe/*", (c) => registry.handler(c.req.raw));
  // After the actor route on purpose: that route keeps the registry's own limit.
  app.use("*", bodyLimit({ maxBytes: MAX_BODY_BYTES }));

  app.get("/api/health", healthRoute(database.pool, { url: opts.databaseUrl }));

  app.post("/api/guest", async (c) => {
    const body = await c.req.json().catch(() => undefined);
    const parsed = guestName.safeParse((body as { name?: unknown } | undefined)?.name);
    if (!parsed.success) {
      throw new UserError(parsed.error.issues[0]?.message ?? "Pick a name.", {
        code: "invalid_input",
      });
    }
    const player = { id: randomUUID(), name: parsed.data };
    return c.json({ token: await auth.signGuest(player), player }, 201);
  });

  app.get("/api/leaderboard", async (c) => {
    const rows = await database.db
      .select({
        id: players.id,
        name: players.name,
        rating: players.rating,
        games: players.games,
        wins: players.wins,
      })
      .from(players)
      .where(gt(players.games, 0))
      .orderBy(desc(players.rating), players.id)
      .limit(LEADERBOARD_SIZE);
    return c.json({ players: rows.map((r, i) => ({ rank: i + 1, ...r })) });
  });

  app.get("/api/players/:id", async (c) => {
    const id = c.req.param("id");
    const [player] = await database.db.select().from(players).where(eq(players.id, id));
    if (!player)
      throw new UserError("No player with this id has finished a match.", {
        code: "player_not_found",
      });
    const recent = await database.db
      .select({
        matchId: matchPlayers.matchId,
        mode: matches.mode,
        endedAt: matches.endedAt,
        rank: matchPlayers.rank,
        won: matchPlayers.won,
        kills: matchPlayers.kills,
        deaths: matchPlayers.deaths,
        ratingBefore: matchPlayers.ratingBefore,
        ratingAfter: matchPlayers.ratingAfter,
      })
      .from(matchPlayers)
      .innerJoin(matches, eq(matches.id, matchPlayers.matchId))
      .where(eq(matchPlayers.playerId, id))
      .orderBy(desc(matches.endedAt))
      .limit(20);
    return c.json({
      player: {
        id: player.id,
        name: player.name,
        rating: player.rating,
        games: player.games,
        wins: player.wins,
      },
      recent: recent.map((r) => ({ ...r, endedAt: r.endedAt.getTime() })),
    });
  });

  app.all("/api/*", (c) =>
    c.json({ error: { code: "not_found", message: "No such API route.", metadata: null } }, 404),
  );
  if (opts.frontend) serveFrontend(app, opts.frontend);
  else app.get("/", (c) => c.html(ABOUT_PAGE));

  const server = await listen(app, registry, {
    port: opts.port ?? (process.env.PORT ? Number(process.env.PORT) : 3000),
    hostname: opts.hostname,
    // Last, after every match's onSleep made its last attempt to flush its outbox.
    onClose: () => database.close(),
  });

  return {
    url: server.url,
    port: server.port,
    registry,
    auth,
    database,
    fetch: app.fetch,
    close: server.close,
  };
}

const ABOUT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Troupe arena</title>
<style>body{font-family:system-ui,sans-serif;max-width:38rem;margin:4rem auto;padding:0 1rem;color:#1f2937}code{background:#f3f4f6;padding:.1rem .3rem;border-radius:.25rem}</style>
</head><body>
<h1>Troupe arena</h1>
<p>This is the game server of the Troupe arena template, running the API only (no built frontend was
given to it). Run <code>pnpm dev</code> for the game with hot reload, or <code>pnpm build</code> then
<code>pnpm start</code>. See <code>templates/game/README.md</code>.</p>
<ul>
<li><code>POST /api/guest</code> with <code>{ "name" }</code>: a guest token</li>
<li>actors <code>matchmaker ["ffa"]</code> and <code>match [matchId]</code> under <code>/api/troupe</code></li>
<li><a href="/api/leaderboard"><code>GET /api/leaderboard</code></a>, <code>GET /api/players/:id</code></li>
</ul>
</body></html>`;
