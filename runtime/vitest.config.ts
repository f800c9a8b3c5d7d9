import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "runtime",
    include: ["src/**/*.test.ts", "test/**/*.test.{ts,tsx}"],
    exclude: ["**/*.case.test.ts", "**/node_modules/**"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/quiet.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
