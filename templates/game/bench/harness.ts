/**
 * What the game benches share: the wire meter on the players' WebSocket, and the forked
 * processes (server, control) with their IPC (`ready`, `measure`, `report`).
 *
 * Environment, for every forked process:
 * - `BENCH_PRIORITY`: a nice value (e.g. -10; below 0 needs root): how the server fares when the
 *   machine's other processes wait for it rather than it for them;
 * - `BENCH_NODE_FLAGS`: node options (e.g. `--single-threaded-gc`);
 * - `BENCH_SERVER_PROFILE`: a folder for a V8 CPU profile of the server.
 */
import { type ChildProcess, fork } from "node:child_process";
import { WebSocket as WsWebSocket } from "ws";

const PRIORITY = process.env.BENCH_PRIORITY ? Number(process.env.BENCH_PRIORITY) : undefined;

/** Progress goes to stderr, the figures to stdout. */
export const progress = (line: string) => console.error(`[bench] ${line}`);

/** Every frame the players receive while `on`: bytes on the wire, and those of snapshots. */
export const meter = { on: false, bytes: 0, snapshotBytes: 0, frames: 0 };

/** A server's frame on the wire: 2 bytes of header, 2 or 8 more for a longer payload, no mask. */
const frameBytes = (payload: number) =>
  payload + 2 + (payload >= 65536 ? 8 : payload >= 126 ? 2 : 0);

/**
 * Node 20 has no WebSocket of its own, so both clients (`troupe/client`, `@colyseus/sdk`) take
 * the global one if there is one: this makes it `ws` (their own fallback) with a counter on every
 * frame. Call before the client is imported.
 */
export function installCountingWebSocket(isSnapshot: (frame: Buffer) => boolean): void {
  class CountingWebSocket extends WsWebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
        if (!meter.on) return;
        const buf = Buffer.isBuffer(data)
          ? data
          : Array.isArray(data)
            ? Buffer.concat(data)
            : Buffer.from(data);
        const bytes = frameBytes(buf.length);
        meter.bytes += bytes;
        meter.frames += 1;
        if (isSnapshot(buf)) meter.snapshotBytes += bytes;
      });
    }
  }
  (globalThis as { WebSocket?: unknown }).WebSocket = CountingWebSocket;
}

/** Forks one of the bench's processes (a server or the control) and waits for its `ready`. */
export function forkReady(
  file: string,
  env: Record<string, string>,
  profile: boolean,
): Promise<{ child: ChildProcess; url: string }> {
  const node = [
    "--import",
    "tsx",
    ...(process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? []),
  ];
  const child = fork(file, [], {
    // `nice` before node rather than setpriority(2) after the start: on Linux that reaches only
    // the main thread, not V8's GC helper threads, which the main thread waits for.
    ...(PRIORITY !== undefined ? { execPath: "nice" } : {}),
    execArgv: [
      ...(PRIORITY !== undefined ? ["-n", String(PRIORITY), process.execPath] : []),
      ...node,
      // Where the server's time goes: a V8 CPU profile, for Chrome's DevTools or speedscope.
      ...(profile && process.env.BENCH_SERVER_PROFILE
        ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_SERVER_PROFILE}`]
        : []),
    ],
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  // The child goes with this process, however this one ends.
  process.once("exit", () => child.kill("SIGKILL"));
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${file} exited (${code}) before it was ready`)));
    child.on("message", (msg: { type: string; url?: string }) => {
      if (msg.type === "ready") resolve({ child, url: msg.url ?? "" });
    });
  });
}

/** Ends a forked process's measuring window and returns its report. */
export function askReport<R>(child: ChildProcess): Promise<R> {
  return new Promise((resolve) => {
    const onMessage = (msg: { type: string }) => {
      if (msg.type !== "report") return;
      child.off("message", onMessage);
      resolve(msg as R);
    };
    child.on("message", onMessage);
    child.send({ type: "report" });
  });
}

/** Stops a forked process (SIGTERM) and waits for it to exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

export async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
