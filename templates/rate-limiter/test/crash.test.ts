// kill -9 under load: the server (src/main.ts, a child process, file storage) takes requests
// from 32 concurrent callers and is killed with SIGKILL. After a restart on the same storage, the
// key's counter has lost at most the decisions of the last snapshot interval (plus slack for the
// write in flight and a late timer): the bound the README states.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createScratchDatabase } from "troupe/db";
import { waitFor } from "troupe/test";
import { describe, expect, test } from "vitest";
import { MAX_WINDOW_MS } from "../src/limiter/rules.js";
import { TEST_PASSWORD, TEST_SECRET } from "./helpers.js";

const TEMPLATE_DIR = join(import.meta.dirname, "..");
const SNAPSHOT_MS = 250;
/** Snapshot interval + a storage write + a timer late on a busy machine. */
const BOUND_WINDOW_MS = SNAPSHOT_MS + 1000;
const LIMIT = 1_000_000;
const LOAD_MS = 3000;

interface Child {
  url: string;
  kill(): Promise<void>;
}

async function spawnServer(env: Record<string, string>): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: TEMPLATE_DIR,
    env: { ...process.env, ...env, PORT: "0", NODE_ENV: "test", API_ONLY: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d) => {
      buf += d;
      const m = /ready on (http:\/\/\S+)/.exec(buf);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
  });
  return {
    url,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
  };
}

async function admin(url: string, method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.json() as Promise<Record<string, string>>;
}

/** Requests counted so far on the key, read from the `RateLimit` header of one more request. */
function usedFrom(res: Response): number {
  const m = /;r=(\d+);/.exec(res.headers.get("ratelimit") ?? "");
  if (!m) throw new Error(`no RateLimit header (status ${res.status})`);
  return LIMIT - Number(m[1]);
}

describe("kill -9 under load", () => {
  test("forgets at most the decisions of the last snapshot interval", async () => {
    const scratch = await createScratchDatabase(process.env.DATABASE_URL!);
    const dataDir = await mkdtemp(join(tmpdir(), "rate-limiter-crash-"));
    const env = {
      DATABASE_URL: scratch.url,
      TROUPE_DATA_DIR: dataDir,
      ADMIN_PASSWORD: TEST_PASSWORD,
      AUTH_SECRET: TEST_SECRET,
      SNAPSHOT_INTERVAL_MS: String(SNAPSHOT_MS),
      BUDGET_MS: "10000",
    };
    let second: Child | undefined;
    const first = await spawnServer(env);
    try {
      const { token } = await admin(first.url, "POST", "/api/admin/login", {
        password: TEST_PASSWORD,
      });
      await admin(
        first.url,
        "PUT",
        "/api/admin/plans/big",
        {
          name: "Big",
          rules: [
            {
              id: "quotes",
              match: { route: "/v1/quotes*", method: "GET" },
              algorithm: "fixed-window",
              limit: LIMIT,
              windowMs: MAX_WINDOW_MS,
            },
          ],
        },
        token,
      );
      await admin(
        first.url,
        "POST",
        "/api/admin/tenants",
        { id: "acme", name: "Acme", planId: "big" },
        token,
      );
      const { key } = await admin(
        first.url,
        "POST",
        "/api/admin/tenants/acme/keys",
        { name: "load" },
        token,
      );

      // Each answer says how many requests the key had used: (time received, used).
      const acked: [number, number][] = [];
      let stop = false;
      const callers = Array.from({ length: 32 }, async () => {
        while (!stop) {
          try {
            const res = await fetch(`${first.url}/v1/quotes`, {
              headers: { authorization: `Bearer ${key}` },
            });
            if (res.status === 200) acked.push([Date.now(), usedFrom(res)]);
            await res.arrayBuffer();
          } catch {
            return; // the server died under us: never acknowledged
          }
        }
      });
      // At least LOAD_MS of load, and long enough that most acknowledgements are older than the
      // bound's window (a loaded machine may serve the first second slowly): then the kill.
      await new Promise((r) => setTimeout(r, LOAD_MS));
      await waitFor(
        () => {
          const recentNow = acked.filter(([at]) => at >= Date.now() - BOUND_WINDOW_MS).length;
          return acked.length >= 100 && acked.length > recentNow * 2;
        },
        { what: "the load to run well beyond the bound's window", timeout: 30_000, interval: 50 },
      );
      const killedAt = Date.now();
      await first.kill();
      stop = true;
      await Promise.all(callers);

      const usedBeforeKill = Math.max(...acked.map(([, used]) => used));
      const recent = acked.filter(([at]) => at >= killedAt - BOUND_WINDOW_MS).length;
      expect(acked.length).toBeGreaterThan(recent * 1.5); // the load ran well beyond the window

      second = await spawnServer(env);
      const after = await fetch(`${second.url}/v1/quotes`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(after.status).toBe(200);
      const usedAfterRestart = usedFrom(after) - 1; // minus the request that asked
      const forgotten = usedBeforeKill - usedAfterRestart;
      expect(usedAfterRestart).toBeGreaterThan(0); // snapshots were written
      expect(forgotten).toBeLessThanOrEqual(recent);
    } finally {
      await first.kill();
      await second?.kill();
      await scratch.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
