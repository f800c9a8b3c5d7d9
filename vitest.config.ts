import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: ["runtime", "templates/*", "e2e", "create-app"],
  },
});
