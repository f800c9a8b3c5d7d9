// Which package manager an app is made for when no --pm is given: the one that runs
// create-troupe, read from the `npm_config_user_agent` it sets (`npm create`, `pnpm create`,
// `yarn create`, `pnpm create-app` in the repo); npm when nothing set it (a plain `node`).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { detectPackageManager, runCommand } from "../src/pm.js";
import { cleanEnv, run, scratchDir } from "./helpers.js";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("detectPackageManager", () => {
  it.each([
    ["pnpm/12.21.0 npm/? node/v20.20.2 linux x64", "pnpm"],
    ["yarn/1.22.22 npm/? node/v20.20.2 linux x64", "yarn"],
    ["npm/11.19.1 node/v20.20.2 linux x64 workspaces/false", "npm"],
  ])("%s: %s", (agent, pm) => {
    expect(detectPackageManager(agent)).toBe(pm);
  });

  it("reads npm_config_user_agent when given nothing", () => {
    vi.stubEnv("npm_config_user_agent", "yarn/1.22.22 npm/? node/v20.20.2 linux x64");
    expect(detectPackageManager()).toBe("yarn");
  });

  it("npm when the variable is missing or empty, or names a package manager it does not know", () => {
    vi.stubEnv("npm_config_user_agent", undefined);
    expect(process.env.npm_config_user_agent).toBeUndefined();
    expect(detectPackageManager()).toBe("npm");
    expect(detectPackageManager("")).toBe("npm");
    expect(detectPackageManager("bun/1.2.0 npm/? node/v22.0.0 linux x64")).toBe("npm");
  });

  it.each(["npm", "pnpm"] as const)("what %s itself sets for a script it runs", async (pm) => {
    const dir = await scratchDir();
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({
        name: "agent-probe",
        private: true,
        scripts: { probe: 'node -e "console.log(process.env.npm_config_user_agent)"' },
      }),
    );
    const { stdout } = await run(pm, ["run", "--silent", "probe"], { cwd: dir, env: cleanEnv() });
    expect(detectPackageManager(stdout.trim())).toBe(pm);
  });
});

describe("runCommand", () => {
  it("npm needs `run` for scripts other than test and start; pnpm and yarn do not", () => {
    expect(runCommand("npm", "dev")).toBe("npm run dev");
    expect(runCommand("npm", "test")).toBe("npm test");
    expect(runCommand("pnpm", "dev")).toBe("pnpm dev");
    expect(runCommand("yarn", "test")).toBe("yarn test");
  });
});
