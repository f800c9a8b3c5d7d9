/**
 * `troupe/db/drizzle`: an app's own database beside its actors, the way every template opens it: a pool from
 * `createPool` (statements time out, a lost connection is logged instead of crashing the
 * process) wrapped by drizzle with the app's schema, the drizzle-kit migrations applied at
 * start, and transactions that give a broken connection back to the pool (`troupe/outbox`'s
 * `inTransaction`) handed to the callback as a drizzle database.
 *
 * The migrations are looked up in `migrations/` beside the module whose `import.meta.url` is
 * given: `src/db/migrations` when run from source, `dist/server/migrations` once the server
 * build (`troupe/vite/server-build`) has bundled that module into `dist/server` and copied them.
 * A sub-export of its own, so that `troupe/db` needs no drizzle (an optional peer dependency).
 *
 * @example
 * // src/db/index.ts
 * import { type AppDatabase, defineDatabase, type DrizzleDb, type DrizzleTx } from "troupe/db/drizzle";
 * import * as schema from "./schema.js";
 *
 * export type Db = DrizzleDb<typeof schema>;
 * export type Tx = DrizzleTx<typeof schema>;
 * export type Database = AppDatabase<typeof schema>;
 * export const { openDatabase, runMigrations, inTransaction, MIGRATIONS_FOLDER } = defineDatabase(
 *   schema,
 *   { name: "chat", moduleUrl: import.meta.url },
 * );
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import type pg from "pg";
import { inTransaction as inPoolTransaction } from "../outbox/index.js";
import { createPool } from "./pool.js";

type Schema = Record<string, unknown>;

/** The app's drizzle database on its pool (`db.$client` is the pool). */
export type DrizzleDb<S extends Schema> = NodePgDatabase<S> & { $client: pg.Pool };
/** What a transaction's callback gets: the same API, on the transaction's own connection. */
export type DrizzleTx<S extends Schema> = NodePgDatabase<S>;

export interface AppDatabase<S extends Schema> {
  pool: pg.Pool;
  db: DrizzleDb<S>;
  /** Ends the pool (connections ending after this are not reported as lost). */
  close(): Promise<void>;
}

export interface DefineDatabaseOptions {
  /** Names the app in the pool's log lines ("[chat/db] connection lost: …"). */
  name: string;
  /** `import.meta.url` of the app's `src/db/index.ts`: its `migrations/` folder is beside it. */
  moduleUrl: string;
}

export interface DatabaseDefinition<S extends Schema> {
  /** Where the drizzle-kit migrations are read from. */
  MIGRATIONS_FOLDER: string;
  /** A pool on `url` and drizzle on it; `log` receives the lost-connection lines. */
  openDatabase(url: string, log?: (message: string) => void): AppDatabase<S>;
  /** Applies the migrations not applied yet (drizzle's journal in the database says which). */
  runMigrations(database: AppDatabase<S>): Promise<void>;
  /** Runs `fn` in one transaction on a pooled connection, handed to it as a drizzle database. */
  inTransaction<T>(db: DrizzleDb<S>, fn: (tx: DrizzleTx<S>) => Promise<T>): Promise<T>;
}

export function defineDatabase<S extends Schema>(
  schema: S,
  opts: DefineDatabaseOptions,
): DatabaseDefinition<S> {
  if (!opts.moduleUrl.startsWith("file:")) {
    throw new Error(
      `defineDatabase: moduleUrl must be the import.meta.url of a file (file:…), not ${JSON.stringify(opts.moduleUrl)}.`,
    );
  }
  const migrationsFolder = join(dirname(fileURLToPath(opts.moduleUrl)), "migrations");
  return {
    MIGRATIONS_FOLDER: migrationsFolder,
    openDatabase(url, log) {
      const { pool, close } = createPool(url, { name: opts.name, log });
      return { pool, db: drizzle(pool, { schema }) as DrizzleDb<S>, close };
    },
    async runMigrations(database) {
      await migrate(database.db, { migrationsFolder });
    },
    inTransaction(db, fn) {
      return inPoolTransaction(db.$client, (client) => fn(drizzle(client, { schema })));
    },
  };
}
