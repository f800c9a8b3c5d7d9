// Helpers shared by tests and benchmarks: servers in child processes, and polling.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

/** The runtime package: `--import tsx` resolves from here wherever the tests were started. */
const RUNTIME_DIR = join(import.meta.dirname, "..");

export interface ChildServer {
  child: ChildProcess;
  /** The first JSON line the script printed (at least `{ "port": N }`). */
  info: { port: number; [k: string]: unknown };
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** SIGKILLs the child and waits for it to exit. */
  kill(): Promise<void>;
}

/**
 * Runs a TypeScript server script in its own Node process (through tsx) and resolves once it
 * prints its first line, a JSON object with the port it listens on.
 */
export async function spawnServer(
  script: string,
  env: Record<string, string> = {},
): Promise<ChildServer> {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: RUNTIME_DIR,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const info = await new Promise<ChildServer["info"]>((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d) => {
      buf += d;
      if (buf.includes("\n")) resolve(JSON.parse(buf.split("\n")[0]!));
    });
    child.once("exit", (code) => reject(new Error(`${script} exited before listening (${code})`)));
  });
  return {
    child,
    info,
    url: `http://127.0.0.1:${info.port}`,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Polls until `check` passes; throws after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
