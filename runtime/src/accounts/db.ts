/**
 * The database `troupe/accounts` works on: the template's own drizzle database over a `pg` pool
 * (whatever else its schema holds: the accounts code uses the query builder on its own tables
 * only), and transactions through `troupe/outbox`'s `inTransaction`, which gives a broken
 * connection's client back to the pool instead of leaking it.
 */
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import type pg from "pg";
import { inTransaction as inPoolTransaction } from "../outbox/index.js";

/** A drizzle database on a `pg` pool, as `drizzle(pool, { schema })` returns it. */
export type AccountsDb = NodePgDatabase<any> & { $client: pg.Pool };
/** What a transaction's callback gets: the same query builder, on the transaction's connection. */
export type AccountsTx = NodePgDatabase<Record<string, never>>;

/** Runs `fn` in one transaction on a pooled connection, handed to it as a drizzle database. */
export function inTransaction<T>(db: AccountsDb, fn: (tx: AccountsTx) => Promise<T>): Promise<T> {
  return inPoolTransaction(db.$client, (client) => fn(drizzle(client)));
}
