// End-to-end tests boot the chat template as a child process in production mode (built
// frontend, Postgres for the app and for actor state) and drive it over real sockets and from
// headless Chromium, so the timeouts leave room for process start-up, restarts and browsers.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "e2e",
    include: ["*.test.ts"],
    globalSetup: ["support/global-setup.ts"],
    setupFiles: ["support/quiet.ts"],
    testTimeout: 90_000,
    hookTimeout: 180_000,
  },
});
