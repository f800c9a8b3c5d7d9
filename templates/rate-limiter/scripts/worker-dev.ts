/**
 * `pnpm dev:worker`: the Cloudflare Worker (`src/worker.ts`) on a local `workerd`, without a
 * Cloudflare account or wrangler, as `wrangler.jsonc` deploys it (src/worker-local.ts). Prints
 * one line, `[rate-limiter] worker ready on <url>`; Ctrl-C (or SIGTERM) stops workerd and exits 0.
 *
 * - `DATABASE_URL`: the Postgres the Worker reaches over TCP. Without it, the embedded Postgres
 *   `pnpm dev` uses (the same data). Migrations, default plans and, on a first run, the admin
 *   password (`ADMIN_PASSWORD`) are applied first, as `pnpm db:setup` does before a deploy.
 * - `AUTH_SECRET`: signs admin tokens; without it the development secret `pnpm dev` keeps in
 *   .troupe/dev-auth-secret (generated once).
 * - `PORT` (default 8787, wrangler's; 0 for a free one); `WORKERD_DATA_DIR`: the Durable
 *   Objects' storage (default .troupe/workerd, kept between runs).
 * - `BUDGET_MS`, `USAGE_ROLLUP_MS`, `SNAPSHOT_INTERVAL_MS`, … (see src/worker.ts) are handed to
 *   the Worker when set.
 *
 * The dashboard is not served here (static assets are Cloudflare's): `pnpm dev` for that.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { resolveDatabaseUrl } from "troupe/db";
import { resolveAuthSecret } from "troupe/secret";
import { stopOnSignals } from "troupe/server";
import { setupDatabase } from "../src/db/setup.js";
import { startLocalWorker } from "../src/worker-local.js";

const TEMPLATE_DIR = join(import.meta.dirname, "..");
/** Worker variables passed through from this process's environment when set. */
const PASSED_THROUGH = [
  "BUDGET_MS",
  "USAGE_ROLLUP_MS",
  "USAGE_BUCKET_MS",
  "SNAPSHOT_INTERVAL_MS",
  "LEASE_BATCH",
  "CONFIG_REFRESH_MS",
];

function fail(message: string): never {
  console.error(`[rate-limiter] could not start the worker: ${message}`);
  process.exit(1);
}

/** The embedded database `pnpm dev` uses: the name `src/main.ts` gives it. */
async function devDatabaseName(): Promise<string> {
  const main = await readFile(join(TEMPLATE_DIR, "src", "main.ts"), "utf8");
  const name = /embeddedName: "([A-Za-z0-9._-]+)"/.exec(main)?.[1];
  if (!name) throw new Error("src/main.ts names no embedded database (embeddedName).");
  return name;
}

const port = process.env.PORT === undefined ? 8787 : Number(process.env.PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail("PORT must be a port number.");

try {
  const databaseUrl = await resolveDatabaseUrl({ name: await devDatabaseName() });
  const authSecret = resolveAuthSecret(process.env, ".troupe/dev-auth-secret", "rate-limiter");
  const hasAdmin = await setupDatabase(databaseUrl, process.env.ADMIN_PASSWORD);
  const vars = Object.fromEntries(
    PASSED_THROUGH.flatMap((name) => {
      const value = process.env[name];
      return value === undefined ? [] : [[name, value]];
    }),
  );
  const worker = await startLocalWorker({
    databaseUrl,
    authSecret,
    dataDir: process.env.WORKERD_DATA_DIR || join(".troupe", "workerd"),
    port: port === 0 ? undefined : port,
    vars,
    // workerd's own lines and the Worker's console, kept off stdout (its one line is the URL).
    onOutput: (line) => {
      if (line.trim()) process.stderr.write(`${line}\n`);
    },
  });
  stopOnSignals(() => worker.stop());
  const note = hasAdmin
    ? ""
    : " (no admin yet: stop, then run again with ADMIN_PASSWORD, 12+ characters)";
  console.log(`[rate-limiter] worker ready on ${worker.url}${note}`);
} catch (err) {
  fail((err as Error).message);
}
