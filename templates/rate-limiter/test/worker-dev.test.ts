// `pnpm dev:worker` (scripts/worker-dev.ts) as a person runs it: a child process that prepares
// the database, starts the Worker on workerd and prints one URL, which answers; SIGINT (Ctrl-C)
// stops workerd and exits 0.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createScratchDatabase } from "troupe/db";
import { afterAll, beforeAll, expect, test } from "vitest";
import { TEST_PASSWORD, TEST_SECRET } from "./helpers.js";

const TEMPLATE_DIR = join(import.meta.dirname, "..");

let scratch: { url: string; drop(): Promise<void> };
let dataDir: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  scratch = await createScratchDatabase(process.env.DATABASE_URL!);
  dataDir = await mkdtemp(join(tmpdir(), "rate-limiter-worker-dev-"));
});

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }
  await rm(dataDir, { recursive: true, force: true });
  await scratch?.drop();
});

test("dev:worker prints one URL that answers, and stops cleanly on SIGINT", async () => {
  const proc = spawn(process.execPath, ["--import", "tsx", "scripts/worker-dev.ts"], {
    cwd: TEMPLATE_DIR,
    env: {
      ...process.env,
      DATABASE_URL: scratch.url,
      AUTH_SECRET: TEST_SECRET,
      ADMIN_PASSWORD: TEST_PASSWORD,
      PORT: "0",
      WORKERD_DATA_DIR: dataDir,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = proc;
  let stdout = "";
  let stderr = "";
  proc.stderr!.on("data", (d) => {
    stderr += d;
  });
  const exit = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on("data", (d) => {
      stdout += d;
      const m = /\[rate-limiter\] worker ready on (http:\/\/\S+)\n/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    void exit.then((code) => reject(new Error(`dev:worker exited (${code}):\n${stderr}`)));
  });
  expect(stdout.trim().split("\n")).toEqual([`[rate-limiter] worker ready on ${url}`]);

  const health = await fetch(`${url}/api/health`);
  expect(await health.json()).toEqual({ ok: true, database: "up" });
  // The database was prepared (migrations, plans, the admin from ADMIN_PASSWORD) before the start.
  const login = await fetch(`${url}/api/admin/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ password: TEST_PASSWORD }),
  });
  expect(login.status).toBe(200);
  const { token } = (await login.json()) as { token: string };
  const plans = await fetch(`${url}/api/admin/plans`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(((await plans.json()) as { id: string }[]).map((p) => p.id)).toEqual(
    expect.arrayContaining(["free", "pro"]),
  );

  proc.kill("SIGINT");
  expect(await exit).toBe(0);
  // workerd went with it: nothing answers on the URL any more.
  await expect(fetch(`${url}/api/health`)).rejects.toThrow();
}, 180_000);
