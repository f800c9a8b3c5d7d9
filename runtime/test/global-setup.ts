/**
 * Vitest global setup: when DATABASE_URL is unset, starts ONE embedded Postgres for the whole
 * run (throwaway data under /var/tmp/troupe-pg/test-<random>, removed at teardown) and exports
 * its URL in DATABASE_URL, which the test workers inherit. When DATABASE_URL is set (CI, or a
 * developer's own server) it does nothing, and the Postgres tests use that server instead.
 */
import { randomBytes } from "node:crypto";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { EMBEDDED_ROOT, startEmbeddedPostgres } from "../src/db/index.js";

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.DATABASE_URL) return undefined;
  await sweepAbandonedRuns();
  const started = Date.now();
  const server = await startEmbeddedPostgres({
    dataDir: join(EMBEDDED_ROOT, `test-${randomBytes(6).toString("hex")}`),
    persistent: false,
  });
  process.env.DATABASE_URL = server.url;
  if (process.env.TROUPE_LOG_LEVEL === "debug") {
    console.error(`[global-setup] embedded Postgres ready in ${Date.now() - started} ms`);
  }
  return async () => {
    await server.stop();
    delete process.env.DATABASE_URL;
  };
}

/** Removes test clusters left by runs that were killed before teardown (older than an hour). */
async function sweepAbandonedRuns(): Promise<void> {
  const entries = await readdir(EMBEDDED_ROOT).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.startsWith("test-")) continue;
    const dir = join(EMBEDDED_ROOT, entry);
    const info = await stat(dir).catch(() => null);
    if (!info || Date.now() - info.mtimeMs < 60 * 60 * 1000) continue;
    const pidFile = await stat(join(dir, "pg", "postmaster.pid")).catch(() => null);
    if (pidFile) continue; // a server may still be running there
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}
