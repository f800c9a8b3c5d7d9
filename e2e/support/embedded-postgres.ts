/**
 * Child-process entry of the global setup: starts a throwaway embedded Postgres (troupe/db) in
 * the directory given as argument, prints `{"url": ...}` on one line, and stops it (removing its
 * data) when its stdin closes, that is when the test run ends or dies.
 *
 * It runs apart from Vitest's main process so that it is the e2e run's own server, whatever the
 * other projects' global setups do with `DATABASE_URL` in that shared process, and so that it
 * goes away with the run even when the run is killed (its stdin closes).
 */
import { startEmbeddedPostgres } from "troupe/db";

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: embedded-postgres.ts <data dir>");

const server = await startEmbeddedPostgres({ dataDir, persistent: false });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  server
    .stop()
    .catch((err: Error) => console.error(`[e2e] stopping embedded Postgres: ${err.message}`))
    .finally(() => process.exit(0));
}
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
