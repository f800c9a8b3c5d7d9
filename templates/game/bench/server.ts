/**
 * The game server as `bench:game` runs it: its own process (forked by bench/game.ts, with an
 * IPC channel), the app's own `startGameServer` on a free port with the database given in
 * `DATABASE_URL` and actor state in a scratch directory, the production code paths otherwise.
 * The only additions are the bench's: the sizes and timings it asks for (`BENCH_TUNING`, JSON)
 * and the `onTick` hook, which files every tick's duration and interval here.
 *
 * `bench/probe.ts` measures beside it what delays the ticks: the event loop's delay, GC pauses,
 * preemptions.
 *
 * IPC, parent → child: `{ type: "measure" }` starts a window (CPU time and ticks counted from
 * now), `{ type: "report" }` ends it and answers `{ type: "report", ... }`. The child says
 * `{ type: "ready", url }` once it listens, and exits on SIGTERM after closing the server.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGameServer } from "../src/server.js";
import { LoopProbe, type ProbeFigures } from "./probe.js";

export interface ServerReport {
  type: "report";
  wallMs: number;
  /** User + system CPU time of this process over the window, as a share of one core (%). */
  cpuPercent: number;
  ticks: number;
  tickDurationsMs: number[];
  tickIntervalsMs: number[];
  /** For each beat of the shared ticker: how late it started against its schedule (ms). */
  beatLateMs: number[];
  /** The event loop's delay, GC pauses and preemptions over the window. */
  probe: ProbeFigures;
}

const send = (msg: unknown) => process.send?.(msg);
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl || !process.send) {
  console.error("bench/server.ts is started by bench/game.ts (IPC and DATABASE_URL needed)");
  process.exit(1);
}

let measuring = false;
let started = { wall: 0, cpu: process.cpuUsage() };
let durations: number[] = [];
let intervals: number[] = [];
let beatLate: number[] = [];
let lastBeatLate = Number.NaN;
const probe = new LoopProbe();

/**
 * `BENCH_HEAP_PROFILE=/tmp/x.heapprofile`: what the server allocates over the window, sampled
 * (every 32 KB), the collected objects included, for Chrome's DevTools (Memory tab).
 */
const heapProfilePath = process.env.BENCH_HEAP_PROFILE;
const inspector = heapProfilePath ? new Session() : null;
inspector?.connect();

const dataDir = await mkdtemp(join(tmpdir(), "game-bench-"));
const server = await startGameServer({
  port: 0,
  hostname: "127.0.0.1",
  databaseUrl,
  authSecret: "bench-secret-0123456789abcdef0123456789abcdef",
  storage: { driver: "file", path: dataDir },
  tuning: JSON.parse(process.env.BENCH_TUNING ?? "{}"),
  onTick: (t) => {
    if (!measuring) return;
    durations.push(t.durationMs);
    // A loop's first tick has no interval.
    if (t.intervalMs > 0) intervals.push(t.intervalMs);
    // Every match of a beat reports the same lateness: one figure per beat.
    if (t.beatLateMs !== lastBeatLate) beatLate.push(t.beatLateMs);
    lastBeatLate = t.beatLateMs;
  },
});

process.on("message", (msg: { type: string }) => {
  if (msg.type === "measure") {
    measuring = true;
    durations = [];
    intervals = [];
    beatLate = [];
    probe.start();
    void inspector?.post("HeapProfiler.startSampling", {
      samplingInterval: 32768,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    started = { wall: performance.now(), cpu: process.cpuUsage() };
  } else if (msg.type === "report") {
    measuring = false;
    const wallMs = performance.now() - started.wall;
    const cpu = process.cpuUsage(started.cpu);
    const report: ServerReport = {
      type: "report",
      wallMs,
      cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
      ticks: durations.length,
      tickDurationsMs: durations,
      tickIntervalsMs: intervals,
      beatLateMs: beatLate,
      probe: probe.stop(),
    };
    send(report);
    if (inspector && heapProfilePath) {
      void inspector
        .post("HeapProfiler.stopSampling")
        .then(({ profile }) => writeFile(heapProfilePath, JSON.stringify(profile)));
    }
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
