/**
 * The rate limiter's database: plans and their rules, tenants, API keys, usage per minute and
 * the admin. `defineDatabase` gives the pool and drizzle with this schema and applies the
 * migrations of `migrations/` (`pnpm db:generate`) at start.
 */
import { type AppDatabase, type DrizzleDb, defineDatabase } from "troupe/db/drizzle";
import * as schema from "./schema.js";

export type Db = DrizzleDb<typeof schema>;
export type Database = AppDatabase<typeof schema>;
export const { openDatabase, runMigrations } = defineDatabase(schema, {
  name: "rate-limiter",
  moduleUrl: import.meta.url,
});
