/**
 * What delays a process's timers, measured from inside it over a window: the event loop's
 * delay (a histogram of how late Node's own sampling timer ran), every garbage-collection pause,
 * and how often the kernel took the process off a core while it still wanted to run
 * (involuntary context switches, which on a shared machine are the other processes' turns).
 *
 * @example
 * const probe = new LoopProbe();
 * probe.start();
 * // ... the window ...
 * const figures = probe.stop();
 */
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";

export interface ProbeFigures {
  /** The event loop's delay (ms): p50, p99 and the largest. */
  loopDelayMs: { p50: number; p99: number; max: number };
  /** Garbage-collection pauses over the window: how many, their total and the longest (ms). */
  gc: { count: number; totalMs: number; maxMs: number; majorCount: number; majorMaxMs: number };
  /** Times the kernel preempted the process, and times it gave up its core waiting (per s). */
  involuntarySwitchesPerS: number;
  voluntarySwitchesPerS: number;
}

export class LoopProbe {
  // 2 ms sampling: fine enough for a 50 ms tick, cheap enough not to be the load it measures.
  private readonly delay = monitorEventLoopDelay({ resolution: 2 });
  private readonly gcObserver: PerformanceObserver;
  private gc = { count: 0, totalMs: 0, maxMs: 0, majorCount: 0, majorMaxMs: 0 };
  private on = false;
  private startedAt = 0;
  private usage = process.resourceUsage();

  constructor() {
    this.gcObserver = new PerformanceObserver((list) => {
      if (!this.on) return;
      for (const entry of list.getEntries()) {
        const g = this.gc;
        g.count += 1;
        g.totalMs += entry.duration;
        g.maxMs = Math.max(g.maxMs, entry.duration);
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
          g.majorCount += 1;
          g.majorMaxMs = Math.max(g.majorMaxMs, entry.duration);
        }
      }
    });
    this.gcObserver.observe({ entryTypes: ["gc"] });
  }

  start(): void {
    this.on = true;
    this.gc = { count: 0, totalMs: 0, maxMs: 0, majorCount: 0, majorMaxMs: 0 };
    this.delay.reset();
    this.delay.enable();
    this.usage = process.resourceUsage();
    this.startedAt = performance.now();
  }

  stop(): ProbeFigures {
    this.on = false;
    this.delay.disable();
    const seconds = (performance.now() - this.startedAt) / 1000;
    const usage = process.resourceUsage();
    const ms = (ns: number) => ns / 1e6;
    return {
      loopDelayMs: {
        p50: ms(this.delay.percentile(50)),
        p99: ms(this.delay.percentile(99)),
        max: ms(this.delay.max),
      },
      gc: { ...this.gc },
      involuntarySwitchesPerS:
        (usage.involuntaryContextSwitches - this.usage.involuntaryContextSwitches) / seconds,
      voluntarySwitchesPerS:
        (usage.voluntaryContextSwitches - this.usage.voluntaryContextSwitches) / seconds,
    };
  }
}
