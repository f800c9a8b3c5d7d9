/**
 * Vitest global setup: without DATABASE_URL, starts one throwaway embedded Postgres for the run
 * (through `troupe/db`, as the runtime's own tests do) and exports its URL to the workers. With
 * DATABASE_URL set (CI, a developer's server) it does nothing and the tests use that server.
 * Each test app then makes its own scratch database next to it.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { EMBEDDED_ROOT, startEmbeddedPostgres } from "troupe/db";

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.DATABASE_URL) return undefined;
  const server = await startEmbeddedPostgres({
    dataDir: join(EMBEDDED_ROOT, `test-rate-limiter-${randomBytes(6).toString("hex")}`),
    persistent: false,
  });
  process.env.DATABASE_URL = server.url;
  return async () => {
    await server.stop();
    delete process.env.DATABASE_URL;
  };
}
