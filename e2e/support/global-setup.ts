/**
 * Vitest global setup of the e2e package, run once per run before any test file:
 *
 * 1. Builds the chat, game, AI agent and rate limiter templates for production with their own
 *    `build` scripts, as a deploy would: the frontend (`dist/public`) and the server as JavaScript (`dist/server/main.js`), which the `start` script runs
 *    with `node` (`E2E_SKIP_BUILD=1` reuses an existing build while iterating on tests).
 * 2. Resolves the Postgres server: `DATABASE_URL` if set, else a throwaway embedded one through
 *    `troupe/db` in its own data directory (the runtime's and the chat's suites start theirs in
 *    the same run), run in a child process (see support/embedded-postgres.ts for why). Test
 *    files get its URL with `inject("databaseUrl")` and each makes its own scratch database.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { EMBEDDED_ROOT } from "troupe/db";
import type { TestProject } from "vitest/node";
import {
  AI_AGENT_DIR,
  AI_AGENT_DIST,
  AI_AGENT_SERVER_ENTRY,
  CHAT_DIR,
  CHAT_DIST,
  CHAT_SERVER_ENTRY,
  E2E_DIR,
  GAME_DIR,
  GAME_DIST,
  GAME_SERVER_ENTRY,
  RATE_LIMITER_DIR,
  RATE_LIMITER_DIST,
  RATE_LIMITER_SERVER_ENTRY,
  REPO_ROOT,
} from "./paths.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The Postgres server of this run (its `postgres` database); tests make scratch ones. */
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [, , , , database] = await Promise.all([
    buildTemplate(CHAT_DIR, CHAT_DIST, CHAT_SERVER_ENTRY, "chat"),
    buildTemplate(GAME_DIR, GAME_DIST, GAME_SERVER_ENTRY, "game"),
    buildTemplate(AI_AGENT_DIR, AI_AGENT_DIST, AI_AGENT_SERVER_ENTRY, "ai-agent"),
    buildTemplate(RATE_LIMITER_DIR, RATE_LIMITER_DIST, RATE_LIMITER_SERVER_ENTRY, "rate-limiter"),
    resolveDatabase(),
  ]);
  project.provide("databaseUrl", database.url);
  return database.stop;
}

async function resolveDatabase(): Promise<{ url: string; stop: () => Promise<void> }> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  const dataDir = join(EMBEDDED_ROOT, `test-e2e-${randomBytes(6).toString("hex")}`);
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(E2E_DIR, "support", "embedded-postgres.ts"), dataDir],
    {
      cwd: E2E_DIR,
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) =>
      reject(new Error(`The embedded Postgres for the e2e tests did not start (exit ${code}).`)),
    );
  });
  return {
    url,
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Runs the template's `build` script the way `pnpm run build` would, in its directory. `dist`:
 * its built frontend (undefined for a template without one).
 */
async function buildTemplate(
  dir: string,
  dist: string | undefined,
  serverEntry: string,
  name: string,
): Promise<void> {
  const outputs = [...(dist ? [join(dist, "index.html")] : []), serverEntry];
  if (process.env.E2E_SKIP_BUILD === "1" && outputs.every((file) => existsSync(file))) {
    return;
  }
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    scripts?: Record<string, string>;
  };
  const script = pkg.scripts?.build;
  if (!script) {
    throw new Error(
      `templates/${name}/package.json has no "build" script: the e2e tests run the ${name} in production mode and need its build in templates/${name}/dist.`,
    );
  }
  const started = Date.now();
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn("sh", ["-c", script], {
      cwd: dir,
      env: {
        ...process.env,
        NODE_ENV: "production",
        PATH: [
          join(dir, "node_modules", ".bin"),
          join(REPO_ROOT, "node_modules", ".bin"),
          process.env.PATH,
        ].join(delimiter),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (d: Buffer) => output.push(d.toString()));
    child.stderr.on("data", (d: Buffer) => output.push(d.toString()));
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) {
    throw new Error(
      `The ${name}'s production build failed (\`${script}\` in templates/${name} exited with ${code}):\n${output.join("")}`,
    );
  }
  for (const file of outputs) {
    if (!existsSync(file)) {
      throw new Error(`The ${name}'s build (\`${script}\`) succeeded but left no ${file}.`);
    }
  }
  if (process.env.TROUPE_LOG_LEVEL === "debug") {
    console.error(`[e2e] ${name} built in ${Date.now() - started} ms`);
  }
}
