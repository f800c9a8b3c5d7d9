// `pnpm bench` (first part): the cost of an in-process action call, the server's own client and
// `c.client()` between actors, with no network in between. One caller awaits each call of a
// counter-like actor; the figure that matters is the CPU time per call (wall time follows the
// machine's other load). Prints calls/s and µs of this process's CPU per call, for an action
// that changes nothing (memory and file drivers: nothing to write) and for one that changes the
// state (memory: an in-memory write; file: a write that must be durable before the reply).
//
// BENCH_SECONDS (default 3) and BENCH_ROUNDS (default 3) tune it; rounds are interleaved and
// medians reported.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { actor, setup } from "troupe";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const counter = actor({
  state: { n: 0 },
  actions: {
    /** Reads: nothing to store, so nothing to wait for. */
    peek: (c, batch: number[]) => batch.length + c.state.n,
    /** Writes: the reply waits for the state to be stored. */
    add: (c, n: number) => {
      c.state.n += n;
      return c.state.n;
    },
  },
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function loop(call: () => Promise<unknown>): Promise<{ perSecond: number; cpuUs: number }> {
  const end = performance.now() + SECONDS * 1000;
  const cpuBefore = process.cpuUsage();
  let done = 0;
  while (performance.now() < end) {
    // 64 calls between clock reads: the clock is not free.
    for (let i = 0; i < 64; i++) await call();
    done += 64;
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { perSecond: done / SECONDS, cpuUs: (cpu.user + cpu.system) / done };
}

const dir = await mkdtemp(join(tmpdir(), "troupe-bench-in-process-"));
const targets = {
  memory: setup({ use: { counter }, storage: { driver: "memory" } }),
  file: setup({ use: { counter }, storage: { driver: "file", path: dir } }),
};
const rows: Record<string, { perSecond: number[]; cpuUs: number[] }> = {};
const handles = await Promise.all(
  Object.entries(targets).map(async ([name, registry]) => {
    const { engine } = await registry.ensureRuntime();
    return [name, engine.client().counter.getOrCreate(["bench"])] as const;
  }),
);
const arg = [1, 2, 3, 4, 5, 6];
for (let round = 0; round < ROUNDS + 1; round++) {
  for (const [name, handle] of handles) {
    for (const [what, call] of [
      ["peek", () => handle.peek(arg)],
      ["add", () => handle.add(1)],
    ] as const) {
      const figures = await loop(call);
      if (round === 0) continue; // warm-up
      const row = (rows[`${name} ${what}`] ??= { perSecond: [], cpuUs: [] });
      row.perSecond.push(figures.perSecond);
      row.cpuUs.push(figures.cpuUs);
    }
  }
}
for (const registry of Object.values(targets)) await registry.close();
await rm(dir, { recursive: true, force: true });

console.log(
  `\nIn-process action calls, 1 caller awaiting each (${SECONDS} s × ${ROUNDS} rounds, medians)`,
);
console.log("| driver, action | calls/s | µs of CPU per call |");
console.log("|---|---|---|");
for (const [name, row] of Object.entries(rows)) {
  console.log(
    `| ${name} | ${Math.round(median(row.perSecond)).toLocaleString("en-US")} | ${median(row.cpuUs).toFixed(2)} |`,
  );
}
