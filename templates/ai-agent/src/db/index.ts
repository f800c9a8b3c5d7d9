/**
 * The agent's database: conversations, messages, tool calls, notes, daily usage and the
 * accounts tables. `defineDatabase` gives the pool and drizzle with this schema, applies the
 * migrations of `migrations/` (`pnpm db:generate`) at start, and runs one-transaction writes.
 */
import {
  type AppDatabase,
  type DrizzleDb,
  type DrizzleTx,
  defineDatabase,
} from "troupe/db/drizzle";
import * as schema from "./schema.js";

export type Db = DrizzleDb<typeof schema>;
/** A transaction's database (`inTransaction`'s callback). */
export type Tx = DrizzleTx<typeof schema>;
export type Database = AppDatabase<typeof schema>;
export const { openDatabase, runMigrations, inTransaction } = defineDatabase(schema, {
  name: "ai-agent",
  moduleUrl: import.meta.url,
});
