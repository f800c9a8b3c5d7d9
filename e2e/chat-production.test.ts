// The chat's production start, as a deploy runs it: the `build` script (run by the global
// setup) makes JavaScript for the server too, and the `start` script runs `node` on it, with no
// tsx. It refuses to start without DATABASE_URL or AUTH_SECRET, or with a database nothing
// answers at, in one sentence and with exit code 1; given both it listens on 0.0.0.0:$PORT and
// keeps actor state in Postgres (schema `troupe`).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createScratchDatabase } from "troupe/db";
import { freePort, waitFor } from "troupe/test";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readStartScript, serverEnv, startChatProduction } from "./support/chat-server.js";
import { CHAT_DIR, CHAT_SERVER_ENTRY } from "./support/paths.js";
import { expectRailwayConfig } from "./support/railway.js";

/** Runs the `start` script to its end (a refusal), with `env` as the whole deploy environment. */
async function startToExit(env: Record<string, string>) {
  const base = serverEnv({});
  for (const name of ["DATABASE_URL", "AUTH_SECRET", "NODE_ENV", "PORT"]) delete base[name];
  const child = spawn("sh", ["-c", readStartScript()], {
    cwd: CHAT_DIR,
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stdout, stderr: stderr.trim() };
}

const secret = randomBytes(32).toString("hex");

describe("the production build", () => {
  it("the start script runs node on the built server, which bundles the runtime", async () => {
    expect(readStartScript()).toMatch(/(^|\s)node\s.*dist\/server\/main\.js$/);
    expect(readStartScript()).not.toMatch(/tsx/);
    const built = await readFile(CHAT_SERVER_ENTRY, "utf8");
    // The workspace runtime (TypeScript source) is compiled in, not imported at run time (an
    // import statement, not a doc comment's example).
    expect(built).not.toMatch(/^\s*(import|export)\b[^\n]*from "troupe(\/[a-z]+)?"/m);
    expect(built).not.toMatch(/import\("troupe(\/[a-z]+)?"\)/);
    expect(built).not.toMatch(/from "(vite|tsx)"/);
    const pkg = JSON.parse(await readFile(join(CHAT_DIR, "package.json"), "utf8"));
    expect(pkg.dependencies.tsx).toBeUndefined();
  });

  it("railway.json deploys with exactly these build and start scripts, one replica, a drain", () => {
    expectRailwayConfig(CHAT_DIR);
  });
});

describe("refusing to start", () => {
  it("without DATABASE_URL, in one sentence, exit 1", async () => {
    const port = await freePort();
    const run = await startToExit({ AUTH_SECRET: secret, PORT: String(port) });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      "[chat] could not start: DATABASE_URL is not set: in production the chat needs a PostgreSQL database for its data and its actors' state (e.g. a Railway Postgres service's DATABASE_URL).",
    );
  });

  it("without AUTH_SECRET, in one sentence, exit 1", async () => {
    const run = await startToExit({
      DATABASE_URL: inject("databaseUrl"),
      PORT: String(await freePort()),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^\[chat\] could not start: AUTH_SECRET is not set\. [^\n]+$/);
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
    expect(run.stderr).toBe(
      `[chat] could not start: The database at 127.0.0.1:${dead} refused the connection (nothing listens there): check that Postgres runs and that the URL points to it.`,
    );
  });
});

describe("a successful start", () => {
  let scratch: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    scratch = await createScratchDatabase(inject("databaseUrl"));
  });
  afterAll(() => scratch?.drop());

  it("listens on 0.0.0.0:$PORT and keeps actor state in Postgres", async () => {
    const chat = await startChatProduction({ databaseUrl: scratch.url, authSecret: secret });
    try {
      await waitFor(() => chat.output().includes(`[chat] ready on http://localhost:${chat.port}`), {
        what: "the ready line",
      });
      // Every interface, not only loopback: reachable on this machine's own address too.
      const external = Object.values(networkInterfaces())
        .flat()
        .find((a) => a && a.family === "IPv4" && !a.internal);
      for (const host of ["127.0.0.1", ...(external ? [external.address] : [])]) {
        const res = await fetch(`http://${host}:${chat.port}/api/health`);
        expect([host, res.status]).toEqual([host, 200]);
      }

      const created = await fetch(`${chat.url}/api/auth/organisations`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          orgName: "Deploy Check",
          displayName: "Ada",
          login: "ada",
          password: "deploy-password-1",
        }),
      });
      expect(created.status).toBe(201);
      const { token } = (await created.json()) as { token: string };
      const res = await fetch(`${chat.url}/api/troupe/actors/action/createRoom`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          actor: { name: "chatRoomList", key: ["deploy-check"], mode: "getOrCreate" },
          args: ["general"],
          params: { token },
        }),
      });
      expect(res.status).toBe(200);
      const client = new pg.Client({ connectionString: scratch.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ name: string }>(
          "SELECT name FROM troupe.actors ORDER BY name",
        );
        expect(rows.map((r) => r.name)).toEqual(["chatRoom", "chatRoomList"]);
      } finally {
        await client.end();
      }
    } finally {
      await chat.close();
    }
  });
});
