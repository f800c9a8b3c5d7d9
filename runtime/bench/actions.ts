// `pnpm bench`: actions/s and p50/p99 latency for each storage driver next to a bare Hono route
// doing the same JSON round trip, with 1 and 32 concurrent callers.
//
// Server paths are loaded with autocannon (not the bottleneck: ~30k req/s here); the typed
// client's own figures (a fetch loop, which tops out far lower) are printed beside them. Each
// target runs in its own child process; rounds are interleaved and medians reported, because the
// machine is shared and noisy. BENCH_SECONDS (default 4) and BENCH_ROUNDS (default 3) tune it.
//
// The `workerd` target is the same counter as a Cloudflare Worker (bench/worker.ts, one Durable
// Object per key) on a local workerd process with its Durable Objects on disk.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { createClient } from "troupe/client";
import { startWorkerd } from "troupe/cloudflare/local";
import { resolveDatabaseUrl } from "troupe/db";
import { type ChildServer, spawnServer } from "../test/support.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TARGETS = (process.env.BENCH_TARGETS ?? "bare,memory,file,postgres,workerd").split(",");
const CONCURRENCY = [1, 32];
const KEYS = 32;

interface Figures {
  rps: number;
  p50: number;
  p99: number;
}

/** The file target's data directories, made here (the child is killed) and removed at the end. */
const dataDirs: string[] = [];

async function startTarget(
  target: string,
  env: Record<string, string>,
): Promise<Pick<ChildServer, "url" | "kill">> {
  if (target === "workerd") {
    const dataDir = await mkdtemp(join(process.env.BENCH_DATA_DIR ?? tmpdir(), "troupe-bench-"));
    dataDirs.push(dataDir);
    const worker = await startWorkerd({
      entry: join(import.meta.dirname, "worker.ts"),
      dataDir,
    });
    return { url: worker.url, kill: () => worker.kill() };
  }
  const dir =
    target === "file"
      ? await mkdtemp(join(process.env.BENCH_DATA_DIR ?? tmpdir(), "troupe-bench-"))
      : undefined;
  if (dir) dataDirs.push(dir);
  return spawnServer(join(import.meta.dirname, "server.ts"), {
    ...env,
    BENCH_TARGET: target,
    TROUPE_LOG_LEVEL: "error",
    ...(dir ? { BENCH_STORE_DIR: dir } : {}),
  });
}

function body(i: number): string {
  return JSON.stringify({
    actor: { name: "counter", key: [`k${i % KEYS}`], mode: "getOrCreate" },
    args: [1],
  });
}

async function cannon(url: string, connections: number): Promise<Figures> {
  let i = 0;
  const result = await autocannon({
    url: `${url}/api/troupe/actors/action/increment`,
    method: "POST",
    headers: { "content-type": "application/json" },
    connections,
    pipelining: 1,
    duration: SECONDS,
    requests: [{ setupRequest: (req: any) => ({ ...req, body: body(i++) }) }],
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  }
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

async function typedClient(url: string, callers: number): Promise<Figures> {
  const client = createClient(url);
  const latencies: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: callers }, async (_, c) => {
      const handle = client.counter.getOrCreate([`k${c % KEYS}`]);
      while (performance.now() < end) {
        const t0 = performance.now();
        await handle.increment(1);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const pick = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { rps: latencies.length / SECONDS, p50: pick(0.5), p99: pick(0.99) };
}

/** autocannon records whole milliseconds; show "<1" rather than a misleading 0.00. */
const fmtMs = (ms: number, load: string) =>
  load === "autocannon" ? (ms < 1 ? "<1" : ms.toFixed(0)) : ms.toFixed(2);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const env: Record<string, string> = {};
  if (TARGETS.includes("postgres")) {
    env.BENCH_DATABASE_URL = await resolveDatabaseUrl({ name: "bench" });
  }
  const servers = new Map<string, Pick<ChildServer, "url" | "kill">>();
  for (const t of TARGETS) servers.set(t, await startTarget(t, env));
  const samples = new Map<string, Figures[]>();
  const add = (k: string, f: Figures) => samples.set(k, [...(samples.get(k) ?? []), f]);
  try {
    // Warm up every target (JIT, actor creation) before measuring.
    for (const [, s] of servers) await cannon(s.url, 8).catch(() => {});
    for (let round = 1; round <= ROUNDS; round++) {
      for (const conc of CONCURRENCY) {
        for (const t of TARGETS) {
          const s = servers.get(t)!;
          add(`${t}|${conc}|autocannon`, await cannon(s.url, conc));
          if (t !== "bare") add(`${t}|${conc}|client`, await typedClient(s.url, conc));
        }
      }
      process.stderr.write(`round ${round}/${ROUNDS} done\n`);
    }
  } finally {
    for (const s of servers.values()) await s.kill();
    for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
  }

  const med = (k: string): Figures => {
    const xs = samples.get(k)!;
    return {
      rps: median(xs.map((x) => x.rps)),
      p50: median(xs.map((x) => x.p50)),
      p99: median(xs.map((x) => x.p99)),
    };
  };
  const rows: string[][] = [
    ["target", "callers", "load", "actions/s", "p50 ms", "p99 ms", "vs bare"],
  ];
  for (const conc of CONCURRENCY) {
    const bare = med(`bare|${conc}|autocannon`);
    for (const t of TARGETS) {
      for (const load of t === "bare" ? ["autocannon"] : ["autocannon", "client"]) {
        const f = med(`${t}|${conc}|${load}`);
        rows.push([
          t,
          String(conc),
          load === "client" ? "typed client" : "autocannon",
          f.rps.toFixed(0),
          fmtMs(f.p50, load),
          fmtMs(f.p99, load),
          load === "autocannon" ? `${(f.rps / bare.rps).toFixed(2)}x` : "",
        ]);
      }
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(
    `\nActions over HTTP, ${SECONDS}s per run, median of ${ROUNDS} interleaved rounds (${new Date().toISOString()})`,
  );
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  "));
  if (TARGETS.includes("memory") && TARGETS.includes("bare")) {
    const ratio = med("memory|32|autocannon").rps / med("bare|32|autocannon").rps;
    console.log(`\nmemory / bare at 32 callers: ${ratio.toFixed(2)}x (target >= 0.6x)`);
  }
  if (TARGETS.includes("memory") && TARGETS.includes("file")) {
    const ratio = med("file|32|autocannon").rps / med("memory|32|autocannon").rps;
    console.log(`file / memory at 32 callers: ${ratio.toFixed(2)}x (target >= 0.5x)`);
  }
  if (TARGETS.includes("memory") && TARGETS.includes("workerd")) {
    for (const conc of CONCURRENCY) {
      const ratio = med(`workerd|${conc}|autocannon`).rps / med(`memory|${conc}|autocannon`).rps;
      const file = TARGETS.includes("file")
        ? `, workerd / file ${(med(`workerd|${conc}|autocannon`).rps / med(`file|${conc}|autocannon`).rps).toFixed(2)}x`
        : "";
      console.log(`workerd / memory at ${conc} callers: ${ratio.toFixed(2)}x${file}`);
    }
  }
  process.exit(0);
}

await main();
