/**
 * Entry point of `pnpm dev` and `pnpm start`: resolves the database (`DATABASE_URL`, else an
 * embedded Postgres kept under /var/tmp/troupe-pg), starts the server and prints its one URL.
 * In production `AUTH_SECRET` is required (startChatServer refuses to start without it).
 */
import { resolveDatabaseUrl } from "troupe/db";
import { resolveAuthSecret } from "./auth.js";
import { startChatServer } from "./server.js";

let authSecret: string;
try {
  // First, so that a production start without AUTH_SECRET fails before anything else starts.
  authSecret = resolveAuthSecret();
} catch (err) {
  console.error(`[chat] could not start: ${(err as Error).message}`);
  process.exit(1);
}
const databaseUrl = await resolveDatabaseUrl({ name: "chat-template" });
const server = await startChatServer({ databaseUrl, authSecret }).catch((err: Error) => {
  console.error(`[chat] could not start: ${err.message}`);
  process.exit(1);
});
console.log(`[chat] ready on ${server.url}`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    server.close().finally(() => process.exit(0));
  });
}
