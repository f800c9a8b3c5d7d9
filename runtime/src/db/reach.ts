/**
 * Is the database there? For a health check (`checkDatabase`, on the app's pool, with a time
 * limit so a database that stopped answering cannot hang the check) and for a start that fails
 * with one sentence naming what is wrong (`assertDatabaseReachable`) instead of the first
 * migration's "Failed query: CREATE SCHEMA IF NOT EXISTS drizzle".
 *
 * `describeDatabaseError` turns what `pg` throws into that sentence: which host:port refused or
 * did not answer, an unknown host, a refused password, a missing database. The password of the
 * URL never appears in it.
 *
 * @example
 * await assertDatabaseReachable(process.env.DATABASE_URL!);   // throws DatabaseUnreachableError
 * app.get("/api/health", async (c) => {
 *   const db = await checkDatabase(pool);                      // { ok: true } | { ok: false, reason }
 *   return c.json({ ok: db.ok, ...(db.ok ? {} : { reason: db.reason }) }, db.ok ? 200 : 503);
 * });
 */
import pg from "pg";

/** How long a check waits for the database by default. */
export const DATABASE_CHECK_TIMEOUT_MS = 2000;
/** How long a start waits for the database by default. */
export const DATABASE_START_TIMEOUT_MS = 10_000;

export type DatabaseCheck = { ok: true } | { ok: false; reason: string };

/** Thrown by `assertDatabaseReachable`; its message is one sentence saying what is wrong. */
export class DatabaseUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseUnreachableError";
  }
}

/** Anything that runs a query: a `pg.Pool`, a `pg.Client`. */
export interface Queryable {
  query(text: string): Promise<unknown>;
}

/**
 * Runs `SELECT 1` on `db` (the app's own pool, so the check sees what the app sees) and says
 * whether it answered within `timeoutMs`. Never throws. `url` (the pool's connection string)
 * lets the reason name the host and port.
 */
export async function checkDatabase(
  db: Queryable,
  opts: { timeoutMs?: number; url?: string } = {},
): Promise<DatabaseCheck> {
  const timeoutMs = opts.timeoutMs ?? DATABASE_CHECK_TIMEOUT_MS;
  const url = opts.url ?? connectionStringOf(db);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const result = await Promise.race([db.query("SELECT 1").then(() => "ok" as const), timedOut]);
    if (result === "ok") return { ok: true };
    return {
      ok: false,
      reason: `${capitalised(at(url))} did not answer within ${seconds(timeoutMs)}.`,
    };
  } catch (err) {
    return { ok: false, reason: describeDatabaseError(err, url) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects to `url` once and runs `SELECT 1`, within `timeoutMs`; throws
 * `DatabaseUnreachableError` with one sentence (which host:port refused, or did not answer, …).
 */
export async function assertDatabaseReachable(
  url: string,
  opts: { timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? DATABASE_START_TIMEOUT_MS;
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  // An error after the connection failed or was given up must not crash the process.
  client.on("error", () => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new DatabaseUnreachableError(
            `${capitalised(at(url))} did not answer within ${seconds(timeoutMs)}.`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.query("SELECT 1");
      })(),
      timedOut,
    ]);
  } catch (err) {
    if (err instanceof DatabaseUnreachableError) throw err;
    throw new DatabaseUnreachableError(describeDatabaseError(err, url), { cause: err });
  } finally {
    clearTimeout(timer);
    // Not awaited: ending a connection to a peer that stopped answering could wait for long.
    client.end().catch(() => {});
  }
}

/** One sentence saying why the database at `url` could not be used; no password in it. */
export function describeDatabaseError(err: unknown, url?: string): string {
  const e = (err ?? {}) as {
    code?: unknown;
    message?: unknown;
    errors?: { code?: unknown; message?: unknown }[];
  };
  const inner = Array.isArray(e.errors) ? e.errors[0] : undefined;
  const code = typeof e.code === "string" ? e.code : (inner?.code as string | undefined);
  const rawMessage = typeof e.message === "string" && e.message ? e.message : inner?.message;
  const message = typeof rawMessage === "string" ? stripPassword(rawMessage, url) : String(err);
  const where = at(url);
  const Where = capitalised(where);
  switch (code) {
    case "ECONNREFUSED":
      return `${Where} refused the connection (nothing listens there): check that Postgres runs and that the URL points to it.`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `The database host ${JSON.stringify(hostOf(url))} could not be found (${code}): check the host name in the URL.`;
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `${Where} could not be reached (${code}): check the host, the port and the network between them.`;
    case "ECONNRESET":
    case "EPIPE":
      return `${Where} closed the connection (${code}).`;
    case "28P01":
    case "28000":
      return `${Where} refused the credentials (${message}): check the user and password in the URL.`;
    case "3D000":
      return `${Where} has no such database (${message}).`;
    case "57P03":
      return `${Where} is starting up or shutting down; retry in a moment.`;
  }
  if (/timeout|timed out/i.test(message)) return `${Where} did not answer in time (${message}).`;
  if (/terminated|closed/i.test(message)) return `${Where} closed the connection (${message}).`;
  return `${Where} could not be used: ${message}.`;
}

/** "the database at host:port" (or "the database" without a URL). */
function at(url: string | undefined): string {
  if (!url) return "the database";
  try {
    const u = new URL(url);
    const host = u.hostname || process.env.PGHOST || "localhost";
    return `the database at ${host}:${u.port || "5432"}`;
  } catch {
    return "the database (its URL is not valid)";
  }
}

function hostOf(url: string | undefined): string {
  try {
    return url ? new URL(url).hostname : "";
  } catch {
    return "";
  }
}

function connectionStringOf(db: Queryable): string | undefined {
  const options = (db as { options?: { connectionString?: unknown } }).options;
  const fromClient = (db as { connectionParameters?: { connectionString?: unknown } })
    .connectionParameters?.connectionString;
  const s = options?.connectionString ?? fromClient;
  return typeof s === "string" ? s : undefined;
}

function stripPassword(message: string, url: string | undefined): string {
  if (!url) return message;
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password ? message.split(password).join("***") : message;
  } catch {
    return message;
  }
}

function capitalised(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
