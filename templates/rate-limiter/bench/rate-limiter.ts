/**
 * Rate-limiter benchmark. Prints:
 *
 * 1. Decisions per second in-process through the shard actors (`Limiter.check` → the key's
 *    `limiterShard` action; file storage, counters snapshotted as in production) with 10,000
 *    keys, for 1 caller (each decision awaited before the next) and 32 concurrent callers
 *    (whose checks for one shard in the same tick share one action call).
 * 2. HTTP requests per second of one JSON route behind `apiKeyRateLimit()` (the key check and
 *    the decision in one actor call, as the app runs it) and behind `apiKey()` + `rateLimit()`
 *    (two calls), each ÷ the same route bare (autocannon, 32 connections), all served by one
 *    child process. Also the server's CPU time per request (read from `/proc`), and the load
 *    generator's CPU per wall second (well under 1.0: autocannon is not what limits the rate).
 *
 * Rounds are interleaved (1 / 32 callers; bare / pair / merged, in a rotating order) and
 * medians reported; compare the ratios and the CPU per request or per decision, not the
 * absolute rates, on a shared machine. The in-process part also prints decisions per second of
 * the process's own CPU time (user + system), which other load on the machine disturbs far
 * less than wall time.
 *
 *   BENCH_ONLY=http pnpm --filter @troupe/template-rate-limiter bench   # or in-process
 *
 *   pnpm bench:rate-limiter                              # from the repo root
 *   BENCH_SECONDS=3 BENCH_ROUNDS=5 pnpm --filter @troupe/template-rate-limiter bench
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { createRegistry } from "../src/actors/index.js";
import { Limiter } from "../src/limiter/limiter.js";
import { MemoryTenants } from "../src/limiter/memory-tenants.js";
import { MAX_WINDOW_MS, parseRule } from "../src/limiter/rules.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
/** `http` skips the in-process part (`in-process` the HTTP part). */
const ONLY = process.env.BENCH_ONLY;
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

async function inProcess(): Promise<void> {
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

  const wall: Record<number, number[]> = { 1: [], 32: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const callers of [1, 32]) wall[callers]!.push(await decisions(limiter, callers));
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
      `| ${callers} | ${fmt(median(wall[callers]!))} | ${fmt(median(perCpuSecond[callers]!))} |`,
    );
  }
  console.log(`keys held per shard: ${keysHeld.join(", ")}`);
}

if (ONLY !== "http") await inProcess();

// ---- 2. HTTP: middleware ÷ bare --------------------------------------------------------------

type Route = "bare" | "pair" | "merged";
const ROUTES: Route[] = ["bare", "pair", "merged"];
const LABELS: Record<Route, string> = {
  bare: "bare",
  pair: "`apiKey()` + `rateLimit()` (2 actor calls)",
  merged: "`apiKeyRateLimit()` (1 actor call)",
};

if (ONLY === "in-process") process.exit(0);

const child = spawn(
  process.execPath,
  ["--import", "tsx", join(import.meta.dirname, "http-server.ts")],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const info = await new Promise<Record<Route, number> & { key: string; dir: string }>(
  (resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d) => {
      buf += d;
      if (buf.includes("\n")) resolve(JSON.parse(buf.split("\n")[0]!));
    });
    child.once("exit", (code) => reject(new Error(`bench server exited (${code})`)));
  },
);

/**
 * The server process's CPU time so far (user + system), in seconds, from Linux's `/proc` (in
 * clock ticks, 100 a second there); NaN elsewhere (the table then says so).
 */
async function serverCpuSeconds(): Promise<number> {
  const stat = await readFile(`/proc/${child.pid}/stat`, "utf8").catch(() => undefined);
  if (stat === undefined) return Number.NaN;
  // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  /** The server's CPU per request (µs): what the middleware costs, little moved by other load. */
  serverUs: number;
  /** The load generator's (this process's) CPU per wall second: near 1.0 it would be the bottleneck. */
  generatorCpu: number;
}

async function cannon(route: Route): Promise<Run> {
  const cpuBefore = process.cpuUsage();
  const serverBefore = await serverCpuSeconds();
  const wallBefore = performance.now();
  const result = await autocannon({
    url: `http://127.0.0.1:${info[route]}/v1/quotes`,
    headers: { authorization: `Bearer ${info.key}` },
    connections: 32,
    duration: SECONDS,
  });
  const wall = (performance.now() - wallBefore) / 1000;
  const server = (await serverCpuSeconds()) - serverBefore;
  const cpu = process.cpuUsage(cpuBefore);
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${route}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  }
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    serverUs: (server / result.requests.total) * 1e6,
    generatorCpu: (cpu.user + cpu.system) / 1e6 / wall,
  };
}

for (const route of ROUTES) await cannon(route); // warm-up
const http: Record<Route, Run[]> = { bare: [], pair: [], merged: [] };
const ratios: Record<Route, number[]> = { bare: [], pair: [], merged: [] };
for (let r = 0; r < ROUNDS; r++) {
  // Each round in another order, so that no route always runs first or after the same one.
  const order = ROUTES.map((_, i) => ROUTES[(i + r) % ROUTES.length]!);
  const round = {} as Record<Route, Run>;
  for (const route of order) round[route] = await cannon(route);
  for (const route of ROUTES) {
    http[route].push(round[route]);
    ratios[route].push(round[route].rps / round.bare.rps);
  }
}
child.kill("SIGTERM");
await rm(info.dir, { recursive: true, force: true });

console.log(
  `\nHTTP, one JSON route, autocannon 32 connections (${SECONDS} s × ${ROUNDS} rounds, median)`,
);
console.log(
  "| route | req/s | ÷ bare (median of per-round ratios) | p50 ms | p99 ms | server CPU µs/request | load generator CPU/wall |",
);
console.log("|---|---|---|---|---|---|---|");
for (const route of ROUTES) {
  const rows = http[route];
  const m = (f: (x: Run) => number) => median(rows.map(f));
  console.log(
    `| ${LABELS[route]} | ${fmt(m((x) => x.rps))} | ${median(ratios[route]).toFixed(2)}× | ${m((x) => x.p50)} | ${m((x) => x.p99)} | ${Number.isNaN(m((x) => x.serverUs)) ? "n/a" : m((x) => x.serverUs).toFixed(1)} | ${m((x) => x.generatorCpu).toFixed(2)} |`,
  );
}
console.log(
  `load average: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(", ")} (${cpus().length} CPUs)`,
);
process.exit(0);
