/**
 * The control beside `bench:game`'s server: a process that does nothing but run the match's own
 * scheduler (`Ticker`, 50 ms) with an empty member. Its tick interval jitter is what the machine
 * alone does to a timer (the other processes' turns on the cores, the kernel's timer slack), the
 * floor under the server's. Forked by bench/game.ts, with the server's IPC: `measure`, `report`.
 */
import { Ticker } from "../src/actors/ticker.js";
import { TICK_MS } from "../src/sim/constants.js";
import { LoopProbe, type ProbeFigures } from "./probe.js";

export interface IdleTimerReport {
  type: "report";
  intervalsMs: number[];
  beatLateMs: number[];
  probe: ProbeFigures;
}

if (!process.send) {
  console.error("bench/idle-timer.ts is started by bench/game.ts (IPC needed)");
  process.exit(1);
}

const probe = new LoopProbe();
const ticker = new Ticker(TICK_MS);
let measuring = false;
let last = 0;
let intervals: number[] = [];
let late: number[] = [];
ticker.join(() => {
  const now = performance.now();
  if (measuring && last) {
    intervals.push(now - last);
    late.push(ticker.lateMs);
  }
  last = now;
});

process.on("message", (msg: { type: string }) => {
  if (msg.type === "measure") {
    measuring = true;
    intervals = [];
    late = [];
    probe.start();
  } else if (msg.type === "report") {
    measuring = false;
    const report: IdleTimerReport = {
      type: "report",
      intervalsMs: intervals,
      beatLateMs: late,
      probe: probe.stop(),
    };
    process.send?.(report);
  }
});
process.once("SIGTERM", () => process.exit(0));
process.send({ type: "ready" });
