/**
 * `pnpm bench:colyseus`: the Troupe server against a Colyseus 0.18 server doing the same work
 * (bench/colyseus/server.ts), in scenario (a): 10 matches × 16 players, players as real
 * WebSocket clients in a process of their own, 20 inputs a second each.
 *
 * Rounds are interleaved (Troupe, Colyseus, Colyseus, Troupe, Troupe, …: each pair in the other
 * order from the one before, so a load that rises or falls through the run weighs on both
 * alike), each a fresh run of `bench/game.ts` (BENCH_SCENARIO=a) or `bench/colyseus/run.ts` in a
 * child process with its own server process. Prints each round's figures, then the medians side
 * by side. One embedded Postgres serves every Troupe round (or `DATABASE_URL`).
 *
 * Each round measures after 10 s of play (`BENCH_WARMUP_MS`; `bench:game` alone waits 3 s): in
 * the first seconds V8 is still compiling and re-optimizing both servers' code, and what is
 * compared is what a server spends once it runs steadily.
 *
 *   pnpm bench:colyseus                          # 3 rounds each, 20 s measured per round
 *   BENCH_ROUNDS=5 BENCH_SECONDS=15 pnpm bench:colyseus
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EMBEDDED_ROOT, startEmbeddedPostgres } from "troupe/db";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const benchDir = fileURLToPath(new URL("..", import.meta.url));

interface Figures {
  load: [number, number];
  serverCpuPercent: number;
  cpuMsPerMatchTick: number;
  ticksPerMatchPerS: number;
  tickP99Ms: number;
  jitterP99Ms: number;
  kbPerClientPerS: number;
  inputToVisibleP50Ms: number;
  playersCpuPercent: number;
}

type Side = "troupe" | "colyseus";

/** One round: the side's bench in a child process; its figures from its `BENCH_JSON` line. */
function round(side: Side, databaseUrl: string): Promise<Figures> {
  const script = side === "troupe" ? join(benchDir, "game.ts") : join(benchDir, "colyseus/run.ts");
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    env: {
      ...process.env,
      BENCH_SCENARIO: "a",
      BENCH_SECONDS: String(SECONDS),
      BENCH_WARMUP_MS: process.env.BENCH_WARMUP_MS ?? "10000",
      BENCH_JSON: "1",
      DATABASE_URL: databaseUrl,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  // The child goes with this process, however this one ends (one listener per running round).
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  child.once("exit", () => process.off("exit", kill));
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("BENCH_JSON "));
      if (code !== 0 || !line) {
        reject(new Error(`${side} round failed (exit ${code}):\n${out}`));
        return;
      }
      resolve(JSON.parse(line.slice("BENCH_JSON ".length)) as Figures);
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

let base = process.env.DATABASE_URL;
let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
if (!base) {
  embedded = await startEmbeddedPostgres({
    dataDir: join(EMBEDDED_ROOT, `bench-colyseus-${randomBytes(6).toString("hex")}`),
    persistent: false,
  });
  base = embedded.url;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

const results: Record<Side, Figures[]> = { troupe: [], colyseus: [] };
try {
  console.log(
    `bench:colyseus: scenario (a), 10 matches x 16 players; ${ROUNDS} rounds per server, ${SECONDS} s measured each, interleaved`,
  );
  for (let i = 0; i < ROUNDS; i++) {
    const order: Side[] = i % 2 === 0 ? ["troupe", "colyseus"] : ["colyseus", "troupe"];
    for (const side of order) {
      const f = await round(side, base);
      results[side].push(f);
      console.log(
        `  round ${i + 1} ${side.padEnd(8)}  CPU ${f.serverCpuPercent.toFixed(1).padStart(5)} %  ${f.cpuMsPerMatchTick.toFixed(3)} ms/match-tick  ${f.ticksPerMatchPerS.toFixed(1)} ticks/s  jitter p99 ${f.jitterP99Ms.toFixed(1)} ms  ${f.kbPerClientPerS.toFixed(2)} KB/client/s  input-to-visible p50 ${f.inputToVisibleP50Ms.toFixed(1)} ms  (load ${f.load[0].toFixed(1)})`,
      );
    }
  }
} finally {
  await embedded?.stop();
}

const rows: [string, (f: Figures) => number, number][] = [
  ["server CPU (% of one core)", (f) => f.serverCpuPercent, 1],
  ["server CPU per match tick (ms)", (f) => f.cpuMsPerMatchTick, 3],
  ["ticks per match per second", (f) => f.ticksPerMatchPerS, 1],
  ["tick duration p99 (ms)", (f) => f.tickP99Ms, 2],
  ["tick interval jitter p99 (ms)", (f) => f.jitterP99Ms, 1],
  ["KB per client per second", (f) => f.kbPerClientPerS, 2],
  ["input-to-visible p50 (ms)", (f) => f.inputToVisibleP50Ms, 1],
  ["players' process CPU (%)", (f) => f.playersCpuPercent, 1],
  ["machine load before", (f) => f.load[0], 1],
];
console.log(`\nmedians of ${ROUNDS} rounds            Troupe     Colyseus 0.18`);
for (const [name, get, digits] of rows) {
  const t = median(results.troupe.map(get)).toFixed(digits);
  const c = median(results.colyseus.map(get)).toFixed(digits);
  console.log(`  ${name.padEnd(32)} ${t.padStart(8)}   ${c.padStart(8)}`);
}
const ratio =
  median(results.troupe.map((f) => f.cpuMsPerMatchTick)) /
  median(results.colyseus.map((f) => f.cpuMsPerMatchTick));
// Each round's pair ran back to back (Troupe, Colyseus, then Colyseus, Troupe, ...), so the
// ratio within a pair is the least touched by the machine's load moving between rounds.
const pairs = results.troupe.map(
  (f, i) => f.cpuMsPerMatchTick / results.colyseus[i]!.cpuMsPerMatchTick,
);
console.log(
  `  Troupe / Colyseus, CPU per match tick: ${ratio.toFixed(2)}   (${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(1)} at the end)`,
);
console.log(
  `  the same within each round's pair: ${pairs.map((r) => r.toFixed(2)).join(", ")}; median ${median(pairs).toFixed(2)}`,
);
