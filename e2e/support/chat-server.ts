/**
 * The chat template in production, as a person or Railway runs it: its `start` script (`node` on
 * the built server, `dist/server/main.js`; `NODE_ENV=production`, `PORT`, `AUTH_SECRET`,
 * `DATABASE_URL`) in its own process group, cwd templates/chat, serving the API and the built
 * frontend on one port. With `DATABASE_URL` in
 * production the template keeps actor state in Postgres (schema `troupe`), so `restart()` after
 * a SIGTERM or a SIGKILL brings back every room and message, on the same port so that connected
 * browsers and clients find it again.
 *
 * @example
 * const chat = await startChatProduction({ databaseUrl });
 * await fetch(`${chat.url}/api/health`);
 * await chat.stop("SIGKILL");
 * await chat.start();
 * await chat.close();
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { freePort, waitFor } from "troupe/test";
import { CHAT_DIR, REPO_ROOT } from "./paths.js";

export interface ChatProductionOptions {
  /** The template's folder (default templates/chat): its `start` script is run there. */
  dir?: string;
  /** Its name in output and errors (default `chat`). */
  label?: string;
  /** The app's database (also holds actor state in production). */
  databaseUrl: string;
  /** Port to listen on; default a free one. Kept across restarts. */
  port?: number;
  /** Default: a random 64-character secret, kept across restarts. */
  authSecret?: string;
  /** Extra environment for the server process. */
  env?: Record<string, string>;
}

export interface ChatProduction {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  authSecret: string;
  databaseUrl: string;
  /** pid of the running server's process group leader, or undefined while stopped. */
  pid: number | undefined;
  /** Everything the server processes printed so far (all runs), prefixed by run number. */
  output(): string;
  /** Starts the server (again) on the same port and waits until /api/health answers. */
  start(): Promise<void>;
  /**
   * Stops the server's whole process group: SIGTERM lets it shut down gracefully (falling back
   * to SIGKILL after 10 s), SIGKILL is a crash.
   */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Stops the server (SIGTERM) for good. */
  close(): Promise<void>;
}

/** How long a start may take: node loads the build, Postgres connects, migrations run. */
const START_TIMEOUT_MS = 60_000;
/** How long a graceful stop may take before the group gets SIGKILL. */
const STOP_GRACE_MS = 10_000;
/** Lines of output kept for failure reports. */
const OUTPUT_LINES = 400;

/**
 * Process groups of running servers. They are detached (so a signal reaches the whole group),
 * which also means they would outlive a test worker that exits without stopping them.
 */
const liveGroups = new Set<number>();
process.once("exit", () => {
  for (const group of liveGroups) signalGroup(group, "SIGKILL");
});

export async function startChatProduction(opts: ChatProductionOptions): Promise<ChatProduction> {
  const dir = opts.dir ?? CHAT_DIR;
  const label = opts.label ?? "chat";
  const port = opts.port ?? (await freePort());
  const authSecret = opts.authSecret ?? randomBytes(32).toString("hex");
  const startScript = readStartScript(dir);
  const lines: string[] = [];
  let runs = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const record = (run: number, stream: string) => (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) {
      if (!line) continue;
      lines.push(`[${label}#${run} ${stream}] ${line}`);
      if (lines.length > OUTPUT_LINES) lines.shift();
    }
  };

  const server: ChatProduction = {
    url: `http://127.0.0.1:${port}`,
    port,
    authSecret,
    databaseUrl: opts.databaseUrl,
    get pid() {
      return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    output: () => lines.join("\n"),

    async start() {
      if (server.pid !== undefined) throw new Error(`The ${label} server is already running.`);
      const run = ++runs;
      const proc = spawn("sh", ["-c", startScript], {
        cwd: dir,
        env: serverEnv(
          {
            ...opts.env,
            NODE_ENV: "production",
            PORT: String(port),
            AUTH_SECRET: authSecret,
            DATABASE_URL: opts.databaseUrl,
          },
          dir,
        ),
        // Its own process group: the script's shell, tsx and node are stopped together.
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      child = proc;
      if (proc.pid) liveGroups.add(-proc.pid);
      proc.stdout!.on("data", record(run, "out"));
      proc.stderr!.on("data", record(run, "err"));
      exited = new Promise((resolve) => proc.once("exit", () => resolve()));
      let exitCode: string | undefined;
      proc.once("exit", (code, signal) => {
        exitCode = signal ?? String(code);
      });
      // Not waitFor(): a server that exits must fail the start at once, not at the deadline.
      const deadline = Date.now() + START_TIMEOUT_MS;
      let problem: string | undefined;
      for (;;) {
        if (exitCode !== undefined) {
          problem = `the server process exited (${exitCode})`;
          break;
        }
        if (await healthy(server.url)) break;
        if (Date.now() > deadline) {
          problem = `/api/health did not answer within ${START_TIMEOUT_MS} ms`;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      if (problem) {
        await server.stop("SIGKILL");
        throw new Error(
          `The ${label} server did not start on port ${port}: ${problem}. Its output:\n${server.output()}`,
        );
      }
    },

    async stop(signal = "SIGTERM") {
      const proc = child;
      if (!proc?.pid) return;
      const group = -proc.pid;
      signalGroup(group, signal);
      if (signal === "SIGTERM") {
        const timer = setTimeout(() => signalGroup(group, "SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      } else {
        await exited;
      }
      // The shell may exit before its children: wait until the whole group is gone.
      await waitFor(() => !groupAlive(group), {
        timeout: STOP_GRACE_MS,
        what: `the ${label} server's processes (group ${proc.pid}) to exit`,
      }).catch((err) => {
        signalGroup(group, "SIGKILL");
        throw err;
      });
      liveGroups.delete(group);
      child = undefined;
    },

    close: () => server.stop("SIGTERM"),
  };

  await server.start();
  return server;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5000) });
    return res.ok && ((await res.json()) as { ok?: unknown }).ok === true;
  } catch {
    return false;
  }
}

/** The template's own `start` script, run through a shell as a package manager would. */
export function readStartScript(dir = CHAT_DIR): string {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    scripts?: Record<string, string>;
  };
  const script = pkg.scripts?.start;
  if (!script) throw new Error(`${join(dir, "package.json")} has no "start" script.`);
  return script;
}

/**
 * The environment a deploy would give the server: this process's, without what the test runner
 * adds (`VITEST*`) and without overrides that would change what production does
 * (actor storage, exposed error details), plus the package's binaries on PATH as `pnpm run` does.
 */
export function serverEnv(extra: Record<string, string>, dir = CHAT_DIR): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(VITEST|TROUPE_STORAGE$|TROUPE_DATA_DIR$|TROUPE_EXPOSE_ERRORS$)/.test(name)) continue;
    env[name] = value;
  }
  env.PATH = [
    join(dir, "node_modules", ".bin"),
    join(REPO_ROOT, "node_modules", ".bin"),
    process.env.PATH,
  ].join(delimiter);
  return { ...env, ...extra };
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(group, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

function groupAlive(group: number): boolean {
  try {
    process.kill(group, 0);
    return true;
  } catch {
    return false;
  }
}
