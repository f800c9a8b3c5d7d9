// The root `pnpm dev` (scripts/dev.mjs): the four templates' own `dev` scripts at once, each on
// its port with its embedded Postgres, started from an empty data root (so four servers copy the
// binaries and run initdb at the same time), and after Ctrl-C nothing of them left running. An
// app that cannot start (its port taken, its database damaged) is one line and the others run.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createScratchDatabase } from "troupe/db";
import { freePort, waitFor } from "troupe/test";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { REPO_ROOT } from "./support/paths.js";

const APPS = [
  { name: "chat", portVariable: "CHAT_PORT", title: "Troupe chat" },
  { name: "game", portVariable: "GAME_PORT", title: "Troupe arena" },
  { name: "ai-agent", portVariable: "AI_AGENT_PORT", title: "Troupe AI agent" },
  { name: "rate-limiter", portVariable: "RATE_LIMITER_PORT", title: "Troupe rate limiter" },
] as const;
type AppName = (typeof APPS)[number]["name"];

interface Suite {
  output(): string;
  exited: Promise<number | null>;
  /** Ctrl-C as a terminal sends it: SIGINT to the foreground process group. */
  interrupt(): Promise<number | null>;
}

const running = new Set<{ child: ChildProcess; done: boolean }>();

/** Runs the root package.json's `dev` script, as `pnpm dev` does, in its own process group. */
function startSuite(env: Record<string, string | undefined>, args: string[] = []): Suite {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
    scripts: { dev: string };
  };
  // `exec`: the shell becomes the script, so that the exit code is dev's own (a shell waiting
  // for it would die of the SIGINT itself).
  const child = spawn("sh", ["-c", `exec ${pkg.scripts.dev} "$@"`, "dev", ...args], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NODE_ENV: "development",
      // The embedded Postgres of each app, in this test's data root.
      DATABASE_URL: undefined,
      // No files in the templates' .troupe/ (where a real `pnpm dev` keeps them).
      AUTH_SECRET: randomBytes(32).toString("hex"),
      TROUPE_STORAGE: "memory",
      ...env,
    },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const entry = { child, done: false };
  running.add(entry);
  let output = "";
  child.stdout!.on("data", (d) => {
    output += d;
  });
  child.stderr!.on("data", (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code, signal) => {
      entry.done = true;
      resolve(code ?? (signal ? -1 : null));
    }),
  );
  return {
    output: () => output,
    exited,
    async interrupt() {
      process.kill(-child.pid!, "SIGINT");
      return exited;
    },
  };
}

/** Waits for the table `dev` prints once every app is ready or has failed. */
async function table(suite: Suite): Promise<string> {
  let exitCode: number | null | undefined;
  void suite.exited.then((code) => {
    exitCode = code;
  });
  return waitFor(
    () => {
      if (exitCode !== undefined) throw new Error(`dev exited (${exitCode}):\n${suite.output()}`);
      const m = /^\[dev\] .*ready \(Ctrl-C stops .*\):\n((?: {2}.*\n)+)/m.exec(suite.output());
      return m?.[1];
    },
    { timeout: 240_000, interval: 250, what: "dev's table of URLs" },
  );
}

/** Health and the page of an app that the table says is ready. */
async function expectServing(url: string, title: string): Promise<void> {
  const health = await fetch(`${url}/api/health`);
  expect(health.status, url).toBe(200);
  expect(await health.json()).toMatchObject({ ok: true, database: "up" });
  const page = await fetch(url);
  expect(page.status, url).toBe(200);
  expect(page.headers.get("content-type")).toMatch(/text\/html/);
  expect(await page.text()).toContain(`<title>${title}</title>`);
}

/**
 * The live processes that belong to this test's suite: everything started with the data root
 * in its environment or on its command line (tsx watch, the apps, the Postgres servers). Zombies
 * are not running.
 */
function suiteProcesses(root: string): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (command.includes(root) || environ.includes(`TROUPE_PG_ROOT=${root}`)) {
        found.push({ pid: Number(entry), command: command.trim() });
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

function postmasters(root: string): string[] {
  return suiteProcesses(root)
    .map((p) => p.command)
    .filter((c) => /\/postgres -D /.test(c));
}

/** Every line is an app's (`[chat] …`), dev's own (`[dev] …`) or a row of its table. */
function expectPrefixed(output: string): void {
  for (const line of output.split("\n").filter((l) => l.trim())) {
    expect(line).toMatch(/^(\[(chat|game|ai-agent|rate-limiter|dev)\] | {2}\S)/);
  }
}

/** A cluster that was initialized but whose files are gone: Postgres refuses to start on it. */
async function damageCluster(root: string, name: string): Promise<void> {
  const dataDir = join(root, name);
  const cluster = join(dataDir, "pg");
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(cluster, { recursive: true });
  await chmod(dataDir, 0o755);
  await writeFile(join(dataDir, "password"), "pw\n");
  await writeFile(join(cluster, ".troupe-initialized"), "\n");
  await writeFile(join(cluster, "PG_VERSION"), "18\n");
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }));
    for (const p of [cluster, join(cluster, "PG_VERSION")]) await chown(p, uid, gid);
  }
  await chmod(cluster, 0o700);
}

describe("pnpm dev at the root", () => {
  let root: string;
  const listeners: Server[] = [];
  beforeAll(async () => {
    // An empty data root: no binaries copied yet, no cluster. Under /tmp, which the server's
    // OS user can enter when this runs as root.
    root = await mkdtemp(join(tmpdir(), "troupe-dev-suite-"));
    await chmod(root, 0o755);
  });
  afterEach(() => {
    // After a failed test, nothing left behind for the next one: dev, and what it started.
    for (const r of running) {
      if (!r.done) {
        try {
          process.kill(-r.child.pid!, "SIGKILL");
        } catch {}
      }
    }
    running.clear();
    for (const { pid } of suiteProcesses(root)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  });
  afterAll(async () => {
    for (const l of listeners) l.close();
    await rm(root, { recursive: true, force: true });
  });

  async function ports(): Promise<Record<AppName, number>> {
    const taken = new Set<number>();
    const result = {} as Record<AppName, number>;
    for (const app of APPS) {
      let port = await freePort();
      while (taken.has(port)) port = await freePort();
      taken.add(port);
      result[app.name] = port;
    }
    return result;
  }
  const portEnv = (p: Record<AppName, number>) =>
    Object.fromEntries(APPS.map((a) => [a.portVariable, String(p[a.name])]));

  it("starts all four from an empty data root, each on its port, and Ctrl-C leaves nothing running", {
    timeout: 360_000,
  }, async () => {
    const p = await ports();
    const suite = startSuite({ TROUPE_PG_ROOT: root, ...portEnv(p) });
    const rows = await table(suite);

    for (const app of APPS) {
      const row = rows.split("\n").find((r) => r.trimStart().startsWith(`${app.name} `));
      const url = /(http:\/\/\S+)/.exec(row ?? "")?.[1];
      expect(url, rows).toBe(`http://localhost:${p[app.name]}`);
      await expectServing(url!, app.title);
    }
    // Under dev, routes outside /api reach the app as in production (Vite in front only gets
    // what the app's routes leave): the rate limiter's public API answers, in JSON, without a key.
    const publicApi = await fetch(`http://localhost:${p["rate-limiter"]}/v1/quotes`, {
      headers: { accept: "text/html,*/*;q=0.8" },
    });
    expect(publicApi.status).toBe(401);
    expect(publicApi.headers.get("content-type")).toMatch(/^application\/json/);
    // A fresh rate limiter has no admin yet: its row says the first visit chooses the password.
    expect(rows).toMatch(
      /^ {2}rate-limiter +http:\/\/\S+ +no admin yet: the first visit chooses the admin password$/m,
    );
    expect(suite.output()).toMatch(/^\[dev\] ready \(Ctrl-C stops them all\):$/m);
    // One Postgres per app, each with its own cluster; the binaries copied once.
    const servers = postmasters(root);
    expect(servers, servers.join("\n")).toHaveLength(4);
    for (const app of APPS) {
      expect(servers.filter((c) => c.includes(`${root}/${app.name}-template/pg`))).toHaveLength(1);
    }
    if (process.getuid?.() === 0) {
      expect(readdirSync(join(root, "bin")).filter((d) => !d.includes(".partial"))).toHaveLength(1);
      expect(readdirSync(join(root, "bin")).filter((d) => d.includes(".partial"))).toEqual([]);
    }
    expect(suiteProcesses(root).filter((x) => x.command.includes("src/main.ts"))).not.toEqual([]);

    expect(await suite.interrupt()).toBe(0);
    // Gone when dev has exited, not some time later: the apps, tsx and every Postgres.
    expect(suiteProcesses(root)).toEqual([]);
    for (const app of APPS) {
      // A clean shutdown removes it; a killed server leaves it.
      expect(existsSync(join(root, `${app.name}-template`, "pg", "postmaster.pid"))).toBe(false);
    }
    expectPrefixed(suite.output());
    expect(suite.output()).not.toMatch(/could not|error|\n\s+at /i);
  });

  it("an app that cannot start is one line and the others run: a port in use, a damaged database", {
    timeout: 360_000,
  }, async () => {
    const p = await ports();
    const taken = createServer();
    listeners.push(taken);
    await new Promise<void>((r) => taken.listen(p.game, "localhost", r));
    await damageCluster(root, "ai-agent-template");

    const suite = startSuite({ TROUPE_PG_ROOT: root, ...portEnv(p) });
    const rows = await table(suite);
    expect(suite.output()).toMatch(/^\[dev\] 2 of 4 ready \(Ctrl-C stops them all\):$/m);
    expect(rows).toMatch(
      new RegExp(`^ {2}game +not running: port ${p.game} is already in use$`, "m"),
    );
    expect(rows).toMatch(/^ {2}ai-agent +not running: see above$/m);
    await expectServing(`http://localhost:${p.chat}`, "Troupe chat");
    await expectServing(`http://localhost:${p["rate-limiter"]}`, "Troupe rate limiter");

    const problems = suite
      .output()
      .split("\n")
      .filter((l) => /could not|error|fail/i.test(l));
    expect(problems, suite.output()).toEqual([
      expect.stringMatching(
        new RegExp(
          `^\\[game\\] could not start: port ${p.game} is already in use: .*set GAME_PORT to another port; the other apps start without it\\.$`,
        ),
      ),
      expect.stringMatching(
        /^\[ai-agent\] could not start: Postgres did not start with the data in .*ai-agent-template\/pg .*set DATABASE_URL to use another Postgres\.$/,
      ),
    ]);

    expect(await suite.interrupt()).toBe(0);
    expect(suiteProcesses(root)).toEqual([]);
    expectPrefixed(suite.output());
  });

  it("every port in use (another `pnpm dev`, say): one line, exit code 1, nothing started", async () => {
    const p = await ports();
    for (const app of APPS) {
      const l = createServer();
      listeners.push(l);
      await new Promise<void>((r) => l.listen(p[app.name], "localhost", r));
    }
    const suite = startSuite({ TROUPE_PG_ROOT: root, ...portEnv(p) });
    expect(await suite.exited).toBe(1);
    expect(suite.output()).toBe(
      `[dev] could not start: ports ${APPS.map((a) => p[a.name]).join(", ")} are already in use (another \`pnpm dev\`?): stop what listens there, or set PORT to another first port.\n`,
    );
    expect(suiteProcesses(root)).toEqual([]);
  });

  it("one database each: a shared DATABASE_URL is refused, <APP>_DATABASE_URL is used", async () => {
    const shared = startSuite({ TROUPE_PG_ROOT: root, DATABASE_URL: inject("databaseUrl") });
    expect(await shared.exited).toBe(1);
    expect(shared.output()).toBe(
      "[dev] could not start: DATABASE_URL is set, but the apps cannot share one database (their tables and migrations would collide): unset it to give each its own embedded Postgres, or set CHAT_DATABASE_URL, GAME_DATABASE_URL, AI_AGENT_DATABASE_URL, RATE_LIMITER_DATABASE_URL instead, one database each.\n",
    );
  });

  it("starts only the apps it is given (here on a database of its own); an unknown one is refused", {
    timeout: 240_000,
  }, async () => {
    const refused = startSuite({ TROUPE_PG_ROOT: root }, ["chat", "chess"]);
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toBe(
      '[dev] could not start: unknown app "chess": the apps are chat, game, ai-agent, rate-limiter.\n',
    );

    // Only the rate limiter, on a database of its own instead of an embedded one.
    const scratch = await createScratchDatabase(inject("databaseUrl"));
    try {
      const p = await ports();
      const suite = startSuite(
        { TROUPE_PG_ROOT: root, ...portEnv(p), RATE_LIMITER_DATABASE_URL: scratch.url },
        ["rate-limiter"],
      );
      const rows = await table(suite);
      expect(suite.output()).toMatch(/^\[dev\] ready \(Ctrl-C stops it\):$/m);
      expect(rows.trimEnd().split("\n")).toEqual([
        expect.stringMatching(
          new RegExp(`^ {2}rate-limiter {2}http://localhost:${p["rate-limiter"]}(  |$)`),
        ),
      ]);
      await expectServing(`http://localhost:${p["rate-limiter"]}`, "Troupe rate limiter");
      expect(postmasters(root)).toEqual([]);
      expect(await suite.interrupt()).toBe(0);
      expect(suiteProcesses(root)).toEqual([]);
    } finally {
      await scratch.drop();
    }
  });
});
