/**
 * Prepares a database for the rate limiter from Node: applies the migrations, adds the default
 * plans and, on a first run, the admin password. The Node server does this itself at every
 * start; a Cloudflare Worker cannot (it has no files to read migrations from, and signing in
 * should not pay for a first-run check), so `pnpm db:setup` runs it before a deploy and the
 * Worker tests run it on their scratch database.
 */
import type { ScryptParams } from "troupe/accounts/password";
import { seedDatabase } from "../app.js";
import { openDatabase, runMigrations } from "./index.js";
import { Store } from "./store.js";

/** Returns whether an admin password is stored afterwards. */
export async function setupDatabase(
  databaseUrl: string,
  adminPassword: string | undefined,
  scrypt?: ScryptParams,
): Promise<boolean> {
  const database = openDatabase(databaseUrl, (msg) => console.error(`[rate-limiter] ${msg}`));
  try {
    await runMigrations(database);
    return await seedDatabase(database.db, new Store(database.db), adminPassword, scrypt);
  } finally {
    await database.close();
  }
}
