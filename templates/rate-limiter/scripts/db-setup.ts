/**
 * `pnpm db:setup`: migrations, default plans and the first admin password for a database the
 * app does not prepare itself (the Cloudflare Worker's). Reads DATABASE_URL and ADMIN_PASSWORD.
 *
 * DATABASE_URL=postgres://… ADMIN_PASSWORD=change-me-please-now pnpm db:setup
 */
import { setupDatabase } from "../src/db/setup.js";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("[rate-limiter] db:setup needs DATABASE_URL (the database the Worker will use).");
  process.exit(1);
}
try {
  const hasAdmin = await setupDatabase(url, process.env.ADMIN_PASSWORD);
  console.log(
    hasAdmin
      ? "[rate-limiter] database ready"
      : "[rate-limiter] database ready, but no admin password is stored: run again with ADMIN_PASSWORD (12+ characters)",
  );
} catch (err) {
  console.error(`[rate-limiter] db:setup failed: ${(err as Error).message}`);
  process.exit(1);
}
