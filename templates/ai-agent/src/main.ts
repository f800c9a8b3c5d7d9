/**
 * Entry point of `pnpm dev` and `pnpm start`: `troupe/server`'s `startApp` checks the settings
 * (the token secret, the model), resolves the database, starts the server (and Vite in
 * development) and prints its one URL; every start failure is one line, `[ai-agent] could not
 * start: …`, and exit code 1 (a configured model provider that does not answer, for one).
 *
 * - `start` (`node dist/server/main.js`, this file built by `pnpm build`): the API and the built
 *   frontend (`dist/public/`) on `0.0.0.0:$PORT`, actor state in Postgres. `DATABASE_URL` and
 *   `AUTH_SECRET` are required; the build compiles production in, so a stray NODE_ENV cannot
 *   turn it into a development server.
 * - `dev` (tsx watch): the database is `DATABASE_URL` or an embedded Postgres kept under
 *   /var/tmp/troupe-pg; the API on an internal port, and Vite (hot reload) on `$PORT` in front.
 *
 * SIGTERM drains: generations end as "interrupted", connections closed with 1001 so clients
 * reconnect to the next process, outboxes flushed, the pool closed.
 */
import { resolveAuthSecret } from "troupe/secret";
import { startApp } from "troupe/server";
import { chooseModel } from "./model/provider.js";
import { startAgentServer } from "./server.js";

await startApp({
  name: "ai-agent",
  built: process.env.TROUPE_AI_AGENT_BUILT === "1",
  devWatchVariable: "AI_AGENT_DEV_WATCH",
  database: {
    embeddedName: "ai-agent-template",
    need: "the agent needs a PostgreSQL database for its data",
  },
  // dist/public: beside dist/server once built, under the package from source.
  frontendDir: new URL(
    process.env.TROUPE_AI_AGENT_BUILT === "1" ? "../public" : "../dist/public",
    import.meta.url,
  ),
  // Left out of the build (the flag is a constant there): production never loads Vite.
  devFrontend:
    process.env.TROUPE_AI_AGENT_BUILT === "1"
      ? undefined
      : () => Promise.all([import("troupe/vite"), import("../vite.config.js")]),
  config: (env) => ({
    authSecret: resolveAuthSecret(env, ".troupe/dev-auth-secret", "ai-agent"),
    model: chooseModel(env),
  }),
  start: ({ config, production, ...where }) => startAgentServer({ ...where, ...config }),
  readyNote: (server) => `model: ${server.model.label}`,
});
