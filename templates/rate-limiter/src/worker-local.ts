/**
 * The Worker (`src/worker.ts`) on a local `workerd`, started as `wrangler.jsonc` deploys it: its
 * entry, compatibility date, Durable Object binding and class, and its `vars`, with the database
 * and the secret given here (secrets on Cloudflare). No Cloudflare account, no wrangler: the
 * entry is bundled with esbuild and run by `troupe/cloudflare/local`'s `startWorkerd`, with the
 * Durable Objects on local disk. Node only; used by `pnpm dev:worker` (scripts/worker-dev.ts) and
 * by test/worker.test.ts, so the command and the tests run the same Worker.
 *
 * The dashboard is not served: on Cloudflare it comes from the static assets (`assets` in
 * wrangler.jsonc), which workerd alone does not serve. The API and the actors are all here.
 *
 * @example
 * const worker = await startLocalWorker({ databaseUrl, authSecret, dataDir: ".troupe/workerd" });
 * await fetch(`${worker.url}/api/health`);
 * await worker.stop();
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type RunningWorkerd, startWorkerd } from "troupe/cloudflare/local";

const TEMPLATE_DIR = join(import.meta.dirname, "..");

/** The parts of wrangler.jsonc a local run needs. */
export interface WranglerConfig {
  main: string;
  compatibility_date: string;
  compatibility_flags?: string[];
  durable_objects: { bindings: { name: string; class_name: string }[] };
  migrations: { tag: string; new_sqlite_classes?: string[] }[];
  vars?: Record<string, string>;
}

/** wrangler.jsonc without its comments (whole-line `//` comments; none of its strings holds one). */
export async function wranglerConfig(): Promise<WranglerConfig> {
  const text = await readFile(join(TEMPLATE_DIR, "wrangler.jsonc"), "utf8");
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, "")) as WranglerConfig;
}

export interface LocalWorkerOptions {
  /** Postgres, reached from the Worker over TCP (`pg`); run `setupDatabase` on it first. */
  databaseUrl: string;
  /** Signs admin tokens (32+ characters). */
  authSecret: string;
  /** Where the Durable Objects keep their SQLite files. Default: a temporary directory. */
  dataDir?: string;
  /** Port on 127.0.0.1. Default: a free one. */
  port?: number;
  /** More variables, over wrangler.jsonc's own (`BUDGET_MS`, `USAGE_ROLLUP_MS`, …). */
  vars?: Record<string, string>;
  /** workerd's output, line by line (the Worker's `console` too). */
  onOutput?: (line: string) => void;
}

export async function startLocalWorker(opts: LocalWorkerOptions): Promise<RunningWorkerd> {
  const config = await wranglerConfig();
  return startWorkerd({
    entry: join(TEMPLATE_DIR, config.main),
    compatibilityDate: config.compatibility_date,
    durableObjects: Object.fromEntries(
      config.durable_objects.bindings.map((b) => [b.name, b.class_name]),
    ),
    dataDir: opts.dataDir,
    port: opts.port,
    vars: {
      ...config.vars,
      DATABASE_URL: opts.databaseUrl,
      AUTH_SECRET: opts.authSecret,
      ...opts.vars,
    },
    onOutput: opts.onOutput,
  });
}
