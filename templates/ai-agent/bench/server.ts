/**
 * The agent server as `bench:ai-agent` runs it: its own process (forked by bench/ai-agent.ts,
 * with an IPC channel), the app's own `startAgentServer` on a free port with the database given
 * in `DATABASE_URL`, actor state in a scratch directory and the stand-in model at `BENCH_TPS`
 * tokens/s; the production code paths otherwise. The daily budget is lifted (the bench spends
 * far more than a person's day).
 *
 * IPC, parent → child: `{ type: "measure" }` starts a window (CPU time counted from now; answered
 * `{ type: "measure-started" }`),
 * `{ type: "report" }` ends it and answers `{ type: "report", wallMs, cpuPercent }`;
 * `{ type: "heap" }` collects garbage and answers `{ type: "heap", heapUsed }`; `{ type: "log" }`
 * answers how many warnings and errors the server logged (to its log file) so far. The child says
 * `{ type: "ready", url }` once it listens, and exits on SIGTERM after closing the server.
 */
import { appendFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance as nodePerformance } from "node:perf_hooks";
import type { Logger } from "troupe";
import { StandInModel } from "../src/model/stand-in.js";
import { startAgentServer } from "../src/server.js";

export type ServerReply =
  | { type: "ready"; url: string }
  | { type: "measure-started" }
  | {
      type: "report";
      wallMs: number;
      cpuPercent: number;
      /** Share of the window the event loop was busy (not waiting for I/O or timers). */
      loopBusy: number;
      /** The event loop's delay over the window (ms): how late a ready callback ran. */
      loopDelay: { p50: number; p99: number; max: number };
    }
  | { type: "heap"; heapUsed: number }
  | { type: "log"; warnings: number; errors: number; path: string; first: string[] };

const send = (msg: ServerReply) => process.send?.(msg);
const databaseUrl = process.env.DATABASE_URL;
const secret = process.env.BENCH_AUTH_SECRET;
if (!databaseUrl || !secret || !process.send) {
  console.error(
    "bench/server.ts is started by bench/ai-agent.ts (IPC, DATABASE_URL, BENCH_AUTH_SECRET)",
  );
  process.exit(1);
}
const gc = (globalThis as { gc?: () => void }).gc;

const dataDir = await mkdtemp(join(tmpdir(), "ai-agent-bench-"));

/**
 * The server's log goes to a file, not between the figures: under a loaded machine the pool
 * times out now and then and the outboxes retry (as they should), one warning per actor.
 * The bench prints how many there were and the first few kinds.
 */
const logPath = join(tmpdir(), `ai-agent-bench-server-${process.pid}.log`);
const logged = { warnings: 0, errors: 0, kinds: new Set<string>() };
function fileLogger(fields: Record<string, unknown> = {}): Logger {
  const write = (level: string, message: string, more?: Record<string, unknown>) => {
    if (level === "warn") logged.warnings++;
    if (level === "error") logged.errors++;
    if (level === "warn" || level === "error") {
      logged.kinds.add(`${level}: ${message.replace(/\(.*$/, "").slice(0, 80)}`);
    }
    const line = JSON.stringify({ level, message, ...fields, ...more }, (_k, v) =>
      v instanceof Error ? { name: v.name, message: v.message } : v,
    );
    appendFileSync(logPath, `${line}\n`);
  };
  return {
    error: (m, f) => write("error", m, f),
    warn: (m, f) => write("warn", m, f),
    info: (m, f) => write("info", m, f),
    debug: () => {},
    child: (more) => fileLogger({ ...fields, ...more }),
  };
}
const server = await startAgentServer({
  port: 0,
  hostname: "127.0.0.1",
  databaseUrl,
  authSecret: secret,
  storage: { driver: "file", path: dataDir },
  model: {
    model: new StandInModel({ tokensPerSecond: Number(process.env.BENCH_TPS ?? 50) }),
    label: "offline stand-in model",
  },
  tuning: {
    dailyTokenBudget: Number.MAX_SAFE_INTEGER,
    // BENCH_TURN_BUDGET_MS=0: every part at once, as before the turn budget (for comparisons).
    ...(process.env.BENCH_TURN_BUDGET_MS
      ? { turnBudgetMs: Number(process.env.BENCH_TURN_BUDGET_MS) }
      : {}),
  },
  logger: fileLogger(),
});

// How late the event loop runs what is ready (a cancel frame waiting to be read, a timer): the
// wait a Stop sees on top of its own work.
const LOOP_SAMPLE_MS = 5;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
const window = () => ({
  wall: performance.now(),
  cpu: process.cpuUsage(),
  elu: nodePerformance.eventLoopUtilization(),
});
let started = window();
process.on("message", (msg: { type: string }) => {
  if (msg.type === "measure") {
    started = window();
    loopDelay.reset();
    loopDelay.enable();
    send({ type: "measure-started" });
  } else if (msg.type === "report") {
    loopDelay.disable();
    const wallMs = performance.now() - started.wall;
    const cpu = process.cpuUsage(started.cpu);
    // The histogram holds whole sampling intervals: the delay is what exceeds the interval.
    const ms = (ns: number) => Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS);
    send({
      type: "report",
      wallMs,
      cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
      loopBusy: nodePerformance.eventLoopUtilization(started.elu).utilization,
      loopDelay: {
        p50: ms(loopDelay.percentile(50)),
        p99: ms(loopDelay.percentile(99)),
        max: ms(loopDelay.max),
      },
    });
  } else if (msg.type === "heap") {
    gc?.();
    send({ type: "heap", heapUsed: gc ? process.memoryUsage().heapUsed : Number.NaN });
  } else if (msg.type === "log") {
    send({
      type: "log",
      warnings: logged.warnings,
      errors: logged.errors,
      path: logPath,
      first: [...logged.kinds].slice(0, 5),
    });
  }
});

let stopping = false;
process.once("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  server
    .close()
    .then(() => rm(dataDir, { recursive: true, force: true }))
    .finally(() => process.exit(0));
});

send({ type: "ready", url: server.url });
