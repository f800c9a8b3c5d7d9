/**
 * Entry point of `pnpm dev` and `pnpm start`: `troupe/server`'s `startApp` checks the settings,
 * resolves the database, starts the server (and Vite in development) and prints its one URL;
 * every start failure is one line, `[chat] could not start: …`, and exit code 1.
 *
 * - `start` (`node dist/server/main.js`, this file built by `pnpm build`): the API and the built
 *   frontend (`dist/public/`) on `0.0.0.0:$PORT`, actor state in Postgres. `DATABASE_URL` and
 *   `AUTH_SECRET` are required; the build compiles production in, so a stray NODE_ENV cannot
 *   turn it into a development server.
 * - `dev` (tsx watch): the database is `DATABASE_URL` or an embedded Postgres kept under
 *   /var/tmp/troupe-pg; the API on an internal port, and Vite (hot reload) on `$PORT` in front
 *   of it, proxying `/api`.
 * - `AUTH_TOKEN_TTL_SECONDS`: how long a sign-in token lasts.
 *
 * SIGTERM (a deploy) and SIGINT drain: no new connections, every actor stopped (connections
 * closed with 1001 so clients reconnect, each room's outbox flushed), the pool closed.
 */
import { startApp } from "troupe/server";
import { resolveAuthSecret } from "./auth.js";
import { startChatServer } from "./server.js";

await startApp({
  name: "chat",
  built: process.env.TROUPE_CHAT_BUILT === "1",
  devWatchVariable: "CHAT_DEV_WATCH",
  database: {
    embeddedName: "chat-template",
    need: "the chat needs a PostgreSQL database for its data",
  },
  // dist/public: beside dist/server once built, under the package from source.
  frontendDir: new URL(
    process.env.TROUPE_CHAT_BUILT === "1" ? "../public" : "../dist/public",
    import.meta.url,
  ),
  // Left out of the build (the flag is a constant there): production never loads Vite.
  devFrontend:
    process.env.TROUPE_CHAT_BUILT === "1"
      ? undefined
      : () => Promise.all([import("troupe/vite"), import("../vite.config.js")]),
  config: (env) => {
    const authSecret = resolveAuthSecret(env);
    const ttl = env.AUTH_TOKEN_TTL_SECONDS;
    const tokenTtlSeconds = ttl ? Number(ttl) : undefined;
    if (
      tokenTtlSeconds !== undefined &&
      !(Number.isInteger(tokenTtlSeconds) && tokenTtlSeconds > 0)
    ) {
      throw new Error(`AUTH_TOKEN_TTL_SECONDS must be a whole number of seconds, not "${ttl}".`);
    }
    return { authSecret, tokenTtlSeconds };
  },
  start: ({ config, production, ...where }) => startChatServer({ ...where, ...config }),
});
