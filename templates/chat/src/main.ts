/**
 * Entry point of `pnpm dev` and `pnpm start`: resolves the database (`DATABASE_URL`, else an
 * embedded Postgres kept under /var/tmp/troupe-pg), starts the server and prints its one URL.
 *
 * - `start` (NODE_ENV=production): the API and the built frontend (`dist/`, from `pnpm build`)
 *   on `$PORT`. `AUTH_SECRET` is required (startChatServer refuses to start without it).
 * - `dev`: the API on an internal port, and Vite (hot reload) on `$PORT` in front of it, proxying
 *   `/api`; `tsx watch` restarts the whole process when a backend file changes.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolveDatabaseUrl } from "troupe/db";
import { resolveAuthSecret } from "./auth.js";
import type { FrontendDevServer } from "./dev-frontend.js";
import { startChatServer } from "./server.js";

const production = process.env.NODE_ENV === "production";
const port = process.env.PORT ? Number(process.env.PORT) : 3000;
const distDir = fileURLToPath(new URL("../dist", import.meta.url));

function fail(message: string): never {
  console.error(`[chat] could not start: ${message}`);
  process.exit(1);
}

let authSecret: string;
try {
  // First, so that a production start without AUTH_SECRET fails before anything else starts.
  authSecret = resolveAuthSecret();
} catch (err) {
  fail((err as Error).message);
}
if (production && !existsSync(join(distDir, "index.html"))) {
  fail(
    `the frontend is not built (${join(distDir, "index.html")} is missing). ` +
      "Run `pnpm build` in templates/chat (or `pnpm --filter @troupe/template-chat build`) first.",
  );
}

const tokenTtlSeconds = process.env.AUTH_TOKEN_TTL_SECONDS
  ? Number(process.env.AUTH_TOKEN_TTL_SECONDS)
  : undefined;
if (tokenTtlSeconds !== undefined && !(Number.isInteger(tokenTtlSeconds) && tokenTtlSeconds > 0)) {
  fail(
    `AUTH_TOKEN_TTL_SECONDS must be a whole number of seconds, not "${process.env.AUTH_TOKEN_TTL_SECONDS}".`,
  );
}

const databaseUrl = await resolveDatabaseUrl({ name: "chat-template" });
const server = await startChatServer(
  production
    ? { databaseUrl, authSecret, tokenTtlSeconds, port, frontendDir: distDir }
    : { databaseUrl, authSecret, tokenTtlSeconds, port: 0, hostname: "127.0.0.1" },
).catch((err: Error) => fail(err.message));

let frontend: FrontendDevServer | undefined;
if (!production) {
  const { startFrontendDevServer } = await import("./dev-frontend.js");
  frontend = await startFrontendDevServer({
    port,
    host: process.env.HOST,
    apiUrl: server.url,
  }).catch(async (err: Error) => {
    await server.close();
    return fail(`the Vite dev server did not start on port ${port}: ${err.message}`);
  });
}
console.log(`[chat] ready on ${frontend?.url ?? server.url}`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    Promise.allSettled([frontend?.close(), server.close()]).finally(() => process.exit(0));
  });
}
