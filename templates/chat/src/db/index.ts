/**
 * The app's database: a `pg` pool wrapped by drizzle, and the migrations applied at start.
 *
 * The pool is built to ride out a database blip: clients that lose their server are dropped and
 * their `error` events handled (so a Postgres restart does not crash the process), connecting
 * gives up after a few seconds, and callers (the outbox) retry. Nothing here retries by itself.
 * Transactions go through `inTransaction` below, a drizzle-flavoured wrapper of `troupe/outbox`'s,
 * which gives a broken connection's client back to the pool instead of leaking it.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { inTransaction as inPoolTransaction } from "troupe/outbox";
import * as schema from "./schema.js";

export type Db = NodePgDatabase<typeof schema> & { $client: pg.Pool };
/** What a transaction's callback gets: the same API, on the transaction's own connection. */
export type Tx = NodePgDatabase<typeof schema>;

/** Runs `fn` in one transaction on a pooled connection, handed to it as a drizzle database. */
export function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return inPoolTransaction(db.$client, (client) => fn(drizzle(client, { schema })));
}

export interface Database {
  pool: pg.Pool;
  db: Db;
  close(): Promise<void>;
}

export const MIGRATIONS_FOLDER = join(dirname(fileURLToPath(import.meta.url)), "migrations");

export function openDatabase(url: string, log: (msg: string) => void = console.error): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 10_000,
    // A statement stuck on a half-open socket must fail so the outbox can retry.
    query_timeout: 10_000,
  });
  let lastLogged = 0;
  const onLost = (err: Error) => {
    // Log at most every 5 s; the failing query (if any) reports to its caller anyway.
    if (Date.now() - lastLogged > 5000) {
      lastLogged = Date.now();
      log(`[chat/db] connection lost: ${err.message}`);
    }
  };
  // An idle client that loses its server is reported here and dropped by the pool.
  pool.on("error", onLost);
  // A checked-out client (e.g. between two statements of a transaction) emits `error` on itself,
  // where the pool listens no more: without this listener that would crash the process.
  pool.on("connect", (client) => client.on("error", onLost));
  return {
    pool,
    db: drizzle(pool, { schema }),
    close: () => pool.end(),
  };
}

export async function runMigrations(database: Database): Promise<void> {
  await migrate(database.db, { migrationsFolder: MIGRATIONS_FOLDER });
}
