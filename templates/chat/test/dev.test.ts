// The real `dev` script (tsx watch, the API, Vite in front) in its own process group: start
// failures end it with one sentence and a non-zero exit instead of a stack trace and a watcher
// that waits forever; over-limit bodies get the production server's JSON 413 through Vite; a
// tab that goes away mid-WebSocket prints nothing.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort, rawRequest, repeatedChunks, waitFor } from "troupe/test";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { TEST_SECRET } from "./helpers.js";

const CHAT_DIR = join(import.meta.dirname, "..");
/**
 * The folder of dev's embedded Postgres, as src/main.ts names it: "chat-template" in the repo,
 * the app's own name in an app made with create-app.
 */
const EMBEDDED_NAME = /embeddedName: "([^"]+)"/.exec(
  readFileSync(join(CHAT_DIR, "src", "main.ts"), "utf8"),
)![1]!;

interface Dev {
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const running = new Set<Dev>();
afterEach(async () => {
  await Promise.all([...running].map((d) => d.stop()));
});

async function startDev(env: Record<string, string | undefined>): Promise<Dev> {
  const pkg = JSON.parse(await readFile(join(CHAT_DIR, "package.json"), "utf8")) as {
    scripts: { dev: string };
  };
  const child: ChildProcess = spawn("sh", ["-c", pkg.scripts.dev], {
    cwd: CHAT_DIR,
    env: {
      ...process.env,
      NODE_ENV: "development",
      PATH: [join(CHAT_DIR, "node_modules/.bin"), process.env.PATH].join(delimiter),
      AUTH_SECRET: TEST_SECRET,
      TROUPE_STORAGE: "memory",
      ...env,
    },
    // Its own process group: the shell, tsx watch and the app are stopped together.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => {
    output += d;
  });
  child.stderr!.on("data", (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))),
  );
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const dev: Dev = {
    output: () => output,
    exited,
    async stop() {
      running.delete(dev);
      if (!done) {
        try {
          process.kill(-child.pid!, "SIGINT");
        } catch {}
        await exited;
      }
    },
  };
  running.add(dev);
  return dev;
}

/** Waits for `dev` to print its URL (or to exit, which fails the test with its output). */
async function ready(dev: Dev): Promise<string> {
  let exitCode: number | null | undefined;
  void dev.exited.then((code) => {
    exitCode = code;
  });
  const url = await waitFor(
    () => {
      if (exitCode !== undefined) {
        throw new Error(`dev exited (${exitCode}):\n${dev.output()}`);
      }
      return /\[chat\] ready on (\S+)/.exec(dev.output())?.[1];
    },
    { timeout: 60_000, what: "dev to print its URL" },
  );
  if (exitCode !== undefined) throw new Error(`dev exited (${exitCode}):\n${dev.output()}`);
  return url;
}

function expectOneSentence(output: string, sentence: RegExp): void {
  const lines = output.split("\n").filter((l) => l.trim() && !l.startsWith("[tsx]"));
  expect(lines, output).toHaveLength(1);
  expect(lines[0]).toMatch(sentence);
}

describe("dev: start failures", () => {
  const listeners: Server[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const l of listeners) l.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("a port in use: one sentence, exit code 1", async () => {
    const port = await freePort();
    const taken = createServer();
    listeners.push(taken);
    await new Promise<void>((r) => taken.listen(port, "localhost", r));
    const dev = await startDev({ PORT: String(port) });
    expect(await dev.exited).toBe(1);
    expectOneSentence(
      dev.output(),
      new RegExp(
        `^\\[chat\\] could not start: port ${port} is already in use .*set PORT to another port\\.$`,
      ),
    );
  });

  it("an embedded Postgres that cannot start: one sentence, exit code 1", async () => {
    // A data root whose chat cluster is damaged (initialized, but its files are gone).
    const root = await mkdtemp(join(tmpdir(), "chat-dev-pg-"));
    dirs.push(root);
    await chmod(root, 0o755);
    const cluster = join(root, EMBEDDED_NAME, "pg");
    await mkdir(cluster, { recursive: true });
    await writeFile(join(root, EMBEDDED_NAME, "password"), "pw\n");
    await writeFile(join(cluster, ".troupe-initialized"), "\n");
    await writeFile(join(cluster, "PG_VERSION"), "18\n");
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }));
      for (const p of [cluster, join(cluster, "PG_VERSION")]) await chown(p, uid, gid);
    }
    await chmod(cluster, 0o700);
    const dev = await startDev({
      PORT: String(await freePort()),
      DATABASE_URL: undefined,
      TROUPE_PG_ROOT: root,
    });
    expect(await dev.exited).toBe(1);
    expectOneSentence(
      dev.output(),
      new RegExp(
        `^\\[chat\\] could not start: Postgres did not start with the data in .*${EMBEDDED_NAME}/pg \\(.+\\); if that data is damaged, remove .*${EMBEDDED_NAME} to start afresh, or set DATABASE_URL to use another Postgres\\.$`,
      ),
    );
  });
});

describe("dev: a running server", () => {
  it("over-limit bodies get the JSON 413 of production through Vite, and closed tabs print nothing", async () => {
    const dev = await startDev({ PORT: String(await freePort()) });
    const url = await ready(dev);

    const tooLarge = async (path: string, bytes: number, chunked: boolean) => {
      const res = await rawRequest(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        ...(chunked ? { chunks: repeatedChunks(16 * 1024) } : { body: "x".repeat(bytes) }),
      });
      let code: unknown;
      try {
        code = (JSON.parse(res.text) as { error?: { code?: unknown } }).error?.code;
      } catch {
        code = `not JSON: ${JSON.stringify(res.text)}`;
      }
      return { status: res.status, code };
    };
    for (const chunked of [false, true]) {
      // The app's own routes: 64 KiB.
      expect(await tooLarge("/api/auth/sign-in", 200_000, chunked)).toEqual({
        status: 413,
        code: "payload_too_large",
      });
      // The actor routes: the registry's 1 MiB.
      expect(
        await tooLarge("/api/troupe/actors/action/listRooms", 2 * 1024 * 1024, chunked),
      ).toEqual({ status: 413, code: "payload_too_large" });
    }

    // A tab closing its WebSocket abruptly (a reset, as a killed tab or a lost network does).
    for (let i = 0; i < 3; i++) {
      const { hostname, port } = new URL(url);
      const socket = connect(Number(port), hostname === "localhost" ? "127.0.0.1" : hostname);
      let answer = "";
      socket.on("data", (d) => {
        answer += d;
      });
      socket.on("error", () => {});
      socket.write(
        `GET /api/troupe/actors/connect HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
          "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      await waitFor(() => answer.startsWith("HTTP/1.1 101"), { what: "the WebSocket upgrade" });
      socket.resetAndDestroy();
    }

    await dev.stop();
    expect(dev.output()).not.toMatch(/proxy error|ECONNRESET|EPIPE|\n\s+at /);
  });
});
