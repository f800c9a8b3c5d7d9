// Unit tests (src/**) run without a database; the integration tests (test/**) start real servers
// against a real Postgres, which the global setup provides (or DATABASE_URL), so timeouts leave
// room for server and database start-up.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "template-game",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/quiet.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
