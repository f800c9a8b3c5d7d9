// The game's production start, as a deploy runs it: the `build` script (run by the global setup)
// makes JavaScript for the server and the frontend, and the `start` script runs `node` on it
// with no tsx. It refuses to start without DATABASE_URL or AUTH_SECRET, with a bad tuning
// variable, or with a database nothing answers at, in one sentence and with exit code 1; given
// both it listens on $PORT and serves the built page and its client-side routes.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createScratchDatabase } from "troupe/db";
import { freePort, waitFor } from "troupe/test";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readStartScript, serverEnv, startChatProduction } from "./support/chat-server.js";
import { GAME_DIR, GAME_SERVER_ENTRY } from "./support/paths.js";
import { expectRailwayConfig } from "./support/railway.js";

async function startToExit(env: Record<string, string>) {
  const base = serverEnv({}, GAME_DIR);
  for (const name of ["DATABASE_URL", "AUTH_SECRET", "NODE_ENV", "PORT"]) delete base[name];
  const child = spawn("sh", ["-c", readStartScript(GAME_DIR)], {
    cwd: GAME_DIR,
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stderr: stderr.trim() };
}

const secret = randomBytes(32).toString("hex");

describe("the game's production build", () => {
  it("the start script runs node on the built server, which bundles the runtime", async () => {
    const script = readStartScript(GAME_DIR);
    expect(script).toMatch(/(^|\s)node\s.*dist\/server\/main\.js$/);
    expect(script).not.toMatch(/tsx/);
    const built = await readFile(GAME_SERVER_ENTRY, "utf8");
    expect(built).not.toMatch(/^\s*(import|export)\b[^\n]*from "troupe(\/[a-z]+)?"/m);
    expect(built).not.toMatch(/from "(vite|tsx|phaser)"/);
    const pkg = JSON.parse(await readFile(join(GAME_DIR, "package.json"), "utf8"));
    expect(pkg.dependencies.tsx).toBeUndefined();
  });

  it("railway.json deploys with exactly these build and start scripts, one replica, a drain", () => {
    expectRailwayConfig(GAME_DIR);
  });

  it("refuses to start without DATABASE_URL, in one sentence, exit 1", async () => {
    const run = await startToExit({ AUTH_SECRET: secret, PORT: String(await freePort()) });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      "[game] could not start: DATABASE_URL is not set: in production the game needs a PostgreSQL database for its leaderboard and its actors' state (e.g. a Railway Postgres service's DATABASE_URL).",
    );
  });

  it("refuses to start without AUTH_SECRET, or with a tuning variable that is not a number", async () => {
    const noSecret = await startToExit({
      DATABASE_URL: inject("databaseUrl"),
      PORT: String(await freePort()),
    });
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toMatch(/^\[game\] could not start: AUTH_SECRET is not set\. [^\n]+$/);
    const badTuning = await startToExit({
      DATABASE_URL: inject("databaseUrl"),
      AUTH_SECRET: secret,
      GAME_MATCH_SIZE: "lots",
      PORT: String(await freePort()),
    });
    expect(badTuning.code).toBe(1);
    expect(badTuning.stderr).toBe(
      '[game] could not start: GAME_MATCH_SIZE must be a whole number (at least 1), not "lots".',
    );
  });

  it("when nothing listens at DATABASE_URL: says which host:port refused, exit 1", async () => {
    const dead = await freePort();
    const url = new URL(inject("databaseUrl"));
    url.hostname = "127.0.0.1";
    url.port = String(dead);
    const run = await startToExit({
      DATABASE_URL: url.toString(),
      AUTH_SECRET: secret,
      PORT: String(await freePort()),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(`^\\[game\\] could not start: The database at 127\\.0\\.0\\.1:${dead} refused`),
    );
  });
});

describe("a successful start", () => {
  let scratch: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
  });
  afterAll(() => scratch?.drop());

  it("serves the built page, its client-side routes and the API on $PORT", async () => {
    const game = await startChatProduction({
      dir: GAME_DIR,
      label: "game",
      databaseUrl: scratch.url,
      authSecret: secret,
    });
    try {
      await waitFor(() => game.output().includes(`[game] ready on http://localhost:${game.port}`), {
        what: "the ready line",
      });
      for (const path of ["/", "/leaderboard"]) {
        const res = await fetch(`${game.url}${path}`);
        expect(res.status).toBe(200);
        expect(await res.text()).toContain("<title>Troupe arena</title>");
      }
      const board = await fetch(`${game.url}/api/leaderboard`);
      expect(await board.json()).toEqual({ players: [] });
      const missing = await fetch(`${game.url}/assets/nothing-here.js`);
      expect(missing.status).toBe(404);
    } finally {
      await game.close();
    }
  });
});
