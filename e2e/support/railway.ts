/**
 * A template's `railway.json` against what the e2e tests run: the global setup builds each
 * template with its own `build` script, the production tests start it with its `start` script
 * and wait for `/api/health`. The deploy must name exactly those: the build command ends with the
 * template's `pnpm --filter <package> build`, the start command is `exec pnpm --filter <package>
 * start` (exec, so that Railway's SIGTERM reaches pnpm and through it the server's drain), the
 * health check is `/api/health`, one replica (scale-out is not supported yet), and a drain time.
 *
 * @example
 * it("railway.json names the scripts these tests run", () => expectRailwayConfig(CHAT_DIR));
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";

export interface RailwayConfig {
  build: { buildCommand: string };
  deploy: {
    startCommand: string;
    healthcheckPath: string;
    numReplicas: number;
    drainingSeconds: number;
  };
}

/** Checks `<dir>/railway.json` (see above) and returns it. */
export function expectRailwayConfig(dir: string): RailwayConfig {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    name: string;
    scripts?: Record<string, string>;
  };
  // The scripts it names exist (the tests run them).
  expect(Object.keys(pkg.scripts ?? {})).toEqual(expect.arrayContaining(["build", "start"]));
  const railway = JSON.parse(readFileSync(join(dir, "railway.json"), "utf8")) as RailwayConfig;
  const escaped = pkg.name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  expect(railway.build.buildCommand).toMatch(new RegExp(` && pnpm --filter ${escaped} build$`));
  expect(railway.deploy.startCommand).toBe(`exec pnpm --filter ${pkg.name} start`);
  expect(railway.deploy.healthcheckPath).toBe("/api/health");
  expect(railway.deploy.numReplicas).toBe(1);
  expect(railway.deploy.drainingSeconds).toBeGreaterThan(0);
  return railway;
}
