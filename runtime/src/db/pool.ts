/**
 * The app's connection pool, set up the way an app beside actors needs it: a statement stuck on
 * a half-open socket fails (so an outbox can retry), and a connection the server drops is logged
 * (at most every 5 s) instead of crashing the process.
 *
 * @example
 * const { pool, close } = createPool(process.env.DATABASE_URL!, { name: "chat" });
 * const db = drizzle(pool, { schema });
 */
import pg from "pg";

export interface AppPoolOptions {
  /** Names the app in the log line, e.g. "chat" → "[chat/db] connection lost: …". */
  name: string;
  /** Where the lost-connection line goes (default console.error). */
  log?: (message: string) => void;
  /** Most connections at once (default 10). */
  max?: number;
}

export interface AppPool {
  pool: pg.Pool;
  /** Ends the pool; connections that end after this are not reported as lost. */
  close(): Promise<void>;
}

/** How often at most a lost connection is logged. */
const LOST_LOG_INTERVAL_MS = 5000;

export function createPool(url: string, opts: AppPoolOptions): AppPool {
  const log = opts.log ?? console.error;
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 10_000,
    // A statement stuck on a half-open socket must fail so the outbox can retry.
    query_timeout: 10_000,
  });
  let lastLogged = 0;
  let closed = false;
  const onLost = (err: Error) => {
    // Connections that end after close() (the server dropping them as they go, a test dropping
    // its database) are not lost: nothing uses them any more. The failing query, if any,
    // reports to its caller anyway.
    if (closed) return;
    if (Date.now() - lastLogged > LOST_LOG_INTERVAL_MS) {
      lastLogged = Date.now();
      log(`[${opts.name}/db] connection lost: ${err.message}`);
    }
  };
  // An idle client that loses its server is reported here and dropped by the pool.
  pool.on("error", onLost);
  // A checked-out client (e.g. between two statements of a transaction) emits `error` on itself,
  // where the pool listens no more: without this listener that would crash the process.
  pool.on("connect", (client) => client.on("error", onLost));
  return {
    pool,
    close: () => {
      closed = true;
      return pool.end();
    },
  };
}
