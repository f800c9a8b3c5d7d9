// The tests pack create-troupe, generate apps into temporary folders outside the repo, install
// them from npm and start them in production mode: minutes, not seconds, hence the timeouts.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "create-app",
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/quiet.ts"],
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
