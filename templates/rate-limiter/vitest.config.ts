// Tests start real servers against a real Postgres; the global setup provides one (or uses
// DATABASE_URL), so timeouts leave room for server and database start-up.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "template-rate-limiter",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/quiet.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
