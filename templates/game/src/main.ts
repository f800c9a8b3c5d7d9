/**
 * Entry point of `pnpm dev` and `pnpm start`: `troupe/server`'s `startApp` checks the settings,
 * resolves the database, starts the server (and Vite in development) and prints its one URL;
 * every start failure is one line, `[game] could not start: …`, and exit code 1.
 *
 * - `start` (`node dist/server/main.js`, this file built by `pnpm build`): the API and the built
 *   frontend (`dist/public/`) on `0.0.0.0:$PORT`, actor state in Postgres. `DATABASE_URL` and
 *   `AUTH_SECRET` are required; the build compiles production in, so a stray NODE_ENV cannot
 *   turn it into a development server.
 * - `dev` (tsx watch): the database is `DATABASE_URL` or an embedded Postgres kept under
 *   /var/tmp/troupe-pg; the API on an internal port, and Vite (hot reload) on `$PORT` in front.
 *
 * Both read the tuning variables (`GAME_MATCH_SIZE`, `GAME_MATCH_DURATION_MS`, …, see
 * `tuningFromEnv`), which the e2e tests use for short matches. SIGTERM drains: connections
 * closed with 1001 so clients reconnect, each match's outbox flushed, the pool closed.
 */
import { startApp } from "troupe/server";
import { tuningFromEnv } from "./actors/services.js";
import { resolveAuthSecret } from "./auth.js";
import { startGameServer } from "./server.js";

await startApp({
  name: "game",
  built: process.env.TROUPE_GAME_BUILT === "1",
  devWatchVariable: "GAME_DEV_WATCH",
  database: {
    embeddedName: "game-template",
    need: "the game needs a PostgreSQL database for its leaderboard",
  },
  // dist/public: beside dist/server once built, under the package from source.
  frontendDir: new URL(
    process.env.TROUPE_GAME_BUILT === "1" ? "../public" : "../dist/public",
    import.meta.url,
  ),
  // Left out of the build (the flag is a constant there): production never loads Vite.
  devFrontend:
    process.env.TROUPE_GAME_BUILT === "1"
      ? undefined
      : () => Promise.all([import("troupe/vite"), import("../vite.config.js")]),
  config: (env) => ({ authSecret: resolveAuthSecret(env), tuning: tuningFromEnv(env) }),
  start: ({ config, production, ...where }) => startGameServer({ ...where, ...config }),
});
