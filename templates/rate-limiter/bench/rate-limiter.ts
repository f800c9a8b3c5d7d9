/**
 * Rate-limiter benchmark. Prints:
 *
 * 1. Decisions per second in-process through the shard actors (`Limiter.check` → the key's
 *    `limiterShard` action; file storage, counters snapshotted as in production) with 10,000
 *    keys, for 1 caller (each decision awaited before the next) and 32 concurrent callers
 *    (whose checks for one shard in the same tick share one action call).
 * 2. HTTP requests per second of one JSON route behind `apiKey()` + `rateLimit()` ÷ the same
 *    route bare (autocannon, 32 connections), both served by one child process.
 *
 * Rounds are interleaved (1 / 32 callers; bare / limited) and medians reported; compare the
 * ratios, not the absolute figures, on a shared machine. The in-process part also prints
 * decisions per second of the process's own CPU time (user + system), which other load on the
 * machine disturbs far less than wall time.
 *
 *   pnpm bench:rate-limiter                              # from the repo root
 *   BENCH_SECONDS=3 BENCH_ROUNDS=5 pnpm --filter @troupe/template-rate-limiter bench
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { createRegistry } from "../src/actors/index.js";
import { Limiter } from "../src/limiter/limiter.js";
import { MemoryTenants } from "../src/limiter/memory-tenants.js";
import { MAX_WINDOW_MS, parseRule } from "../src/limiter/rules.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const KEYS = 10_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

// ---- 1. in-process decisions ---------------------------------------------------------------

/** Decisions per second of this process's CPU time, per run: steadier than wall time on a shared machine. */
const perCpuSecond: Record<number, number[]> = { 1: [], 32: [] };

async function decisions(limiter: Limiter, callers: number): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  const cpuBefore = process.cpuUsage();
  let done = 0;
  let allowed = 0;
  await Promise.all(
    Array.from({ length: callers }, async (_, c) => {
      let i = c;
      while (performance.now() < end) {
        // 64 checks between clock reads: the clock is not free.
        for (let j = 0; j < 64; j++) {
          const v = await limiter.check("bench", {
            key: `key-${i % KEYS}`,
            method: "GET",
            path: "/v1/quotes",
          });
          if (v.allowed) allowed++;
          i += callers;
          done++;
        }
      }
    }),
  );
  if (allowed === 0) throw new Error("nothing was allowed: the bench is misconfigured");
  const cpu = process.cpuUsage(cpuBefore);
  perCpuSecond[callers]?.push(done / ((cpu.user + cpu.system) / 1e6));
  return done / SECONDS;
}

const tenants = new MemoryTenants();
tenants.put({
  tenantId: "bench",
  rules: [
    parseRule({
      id: "quotes",
      match: { route: "/v1/quotes", method: "GET" },
      algorithm: "sliding-window",
      limit: 1_000_000_000,
      windowMs: MAX_WINDOW_MS,
    }),
  ],
});
const dir = await mkdtemp(join(tmpdir(), "rate-limiter-bench-"));
const registry = createRegistry({ tenants }, { storage: { driver: "file", path: dir } });
const limiter = await Limiter.start(registry);
await decisions(limiter, 32); // warm-up: wakes the shards, creates the 10,000 counters
perCpuSecond[32] = [];

const inProcess: Record<number, number[]> = { 1: [], 32: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const callers of [1, 32]) inProcess[callers]!.push(await decisions(limiter, callers));
}
const keysHeld = (
  await Promise.all(
    Array.from({ length: limiter.shardsPerTenant }, (_, s) => limiter.shard("bench", s).stats()),
  )
).map((s) => s.keys);
await registry.close();
await rm(dir, { recursive: true, force: true });

console.log(
  `\nIn-process decisions through the shard actors (${KEYS} keys, ${limiter.shardsPerTenant} shards, file storage, ${SECONDS} s × ${ROUNDS} rounds, median)`,
);
console.log("| callers | decisions/s | decisions per CPU-second |");
console.log("|---|---|---|");
for (const callers of [1, 32]) {
  console.log(
    `| ${callers} | ${fmt(median(inProcess[callers]!))} | ${fmt(median(perCpuSecond[callers]!))} |`,
  );
}
console.log(`keys held per shard: ${keysHeld.join(", ")}`);

// ---- 2. HTTP: middleware ÷ bare --------------------------------------------------------------

const child = spawn(
  process.execPath,
  ["--import", "tsx", join(import.meta.dirname, "http-server.ts")],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const info = await new Promise<{ bare: number; limited: number; key: string; dir: string }>(
  (resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d) => {
      buf += d;
      if (buf.includes("\n")) resolve(JSON.parse(buf.split("\n")[0]!));
    });
    child.once("exit", (code) => reject(new Error(`bench server exited (${code})`)));
  },
);

async function cannon(port: number): Promise<{ rps: number; p50: number; p99: number }> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/v1/quotes`,
    headers: { authorization: `Bearer ${info.key}` },
    connections: 32,
    duration: SECONDS,
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`port ${port}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  }
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

await cannon(info.limited); // warm-up
const http: Record<"bare" | "limited", { rps: number; p50: number; p99: number }[]> = {
  bare: [],
  limited: [],
};
const ratios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const bare = await cannon(info.bare);
  const limited = await cannon(info.limited);
  http.bare.push(bare);
  http.limited.push(limited);
  ratios.push(limited.rps / bare.rps);
}
child.kill("SIGTERM");
await rm(info.dir, { recursive: true, force: true });

console.log(
  `\nHTTP, one JSON route, autocannon 32 connections (${SECONDS} s × ${ROUNDS} rounds, median)`,
);
console.log("| route | req/s | p50 ms | p99 ms |");
console.log("|---|---|---|---|");
for (const name of ["bare", "limited"] as const) {
  const rows = http[name];
  console.log(
    `| ${name === "bare" ? "bare" : "apiKey() + rateLimit()"} | ${fmt(median(rows.map((x) => x.rps)))} | ${median(rows.map((x) => x.p50))} | ${median(rows.map((x) => x.p99))} |`,
  );
}
console.log(`middleware ÷ bare (median of per-round ratios): ${median(ratios).toFixed(2)}×`);
process.exit(0);
