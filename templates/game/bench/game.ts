/**
 * `pnpm bench:game`: the game end to end, as players would load it. The server runs in its own
 * process (bench/server.ts: the app's `startGameServer` against a scratch Postgres database);
 * this process is the players: real WebSocket clients through the typed client (`troupe/client`)
 * that each sign in as a guest, queue at the matchmaker, take their ticket to the match, and
 * play: 20 inputs a second (notifications, `conn.notify.input`, as the browser sends them),
 * chosen by the same logic as the server's bots (`botInput`) from what the player can see (its
 * decoded snapshots), so they move, aim, shoot, die and respawn.
 *
 * Scenarios: (a) 10 matches of 16 players, (b) one match of 100 players. For each, once every
 * match is live and a warm-up has passed, it measures for `BENCH_SECONDS` and prints:
 *
 * - server CPU: the server process's user + system time over the window (`process.cpuUsage`,
 *   reported over IPC), as a share of one core;
 * - tick duration p50 / p99 and tick interval jitter p99 (|interval - 50 ms|), from every tick
 *   of every match (the server's opt-in `onTick` hook);
 * - under the jitter, what delays the ticks: how late the shared ticker's beats start against
 *   their schedule, the event loop's delay, GC pauses and preemptions (bench/probe.ts), and the
 *   jitter of an idle ticker alone in its own process (bench/idle-timer.ts): the machine's floor;
 * - bytes per client per second: every WebSocket frame the players received (payload plus frame
 *   header: snapshots and the other events; inputs get no reply), and of those the
 *   snapshots alone;
 * - input-to-visible latency p50 / p99: from sending an input to the first snapshot whose `ack`
 *   covers its `seq` (the first snapshot that shows it applied).
 *
 * The players' own process is shared with nothing else but the machine is (2 cores here): its
 * CPU share is printed too, since a starved client delays the latency it measures.
 *
 *   pnpm bench:game                                   # both scenarios, 20 s each
 *   BENCH_SCENARIO=b BENCH_SECONDS=30 pnpm bench:game # one of them, longer
 *   BENCH_SERVER_PROFILE=/tmp/prof pnpm bench:game     # and a CPU profile of the server
 *   BENCH_PRIORITY=-15 pnpm bench:game                 # the server niced (see bench/harness.ts)
 *   BENCH_JSON=1 pnpm bench:game                       # and a JSON line per scenario
 *
 * Without `DATABASE_URL` an embedded Postgres is started for the run (and removed after).
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "troupe/client";
import { createScratchDatabase, EMBEDDED_ROOT, startEmbeddedPostgres } from "troupe/db";
import type { GameRegistry, MatchedEvent, WireSnapshot } from "../src/actors/index.js";
import { percentile } from "../src/actors/match.js";
import { forWire } from "../src/input/input.js";
import { applyDelta, type EntityView } from "../src/interest/interest.js";
import { decodeSnapshot } from "../src/interest/wire.js";
import { botInput } from "../src/sim/bots.js";
import { TICK_MS, TICK_RATE_HZ } from "../src/sim/constants.js";
import type { PlayerEntity, World } from "../src/sim/step.js";
import {
  askReport,
  forkReady,
  installCountingWebSocket,
  meter,
  progress,
  stopChild,
  until,
} from "./harness.js";
import type { IdleTimerReport } from "./idle-timer.js";
import type { ServerReport } from "./server.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 3000);
const SNAPSHOT_PREFIX = Buffer.from('{"t":"event","name":"snapshot"');
const SCENARIOS = [
  { id: "a", matches: 10, players: 16 },
  { id: "b", matches: 1, players: 100 },
].filter((s) => !process.env.BENCH_SCENARIO || process.env.BENCH_SCENARIO === s.id);

installCountingWebSocket((frame) =>
  frame.subarray(0, SNAPSHOT_PREFIX.length).equals(SNAPSHOT_PREFIX),
);

type Client = ReturnType<typeof createClient<GameRegistry>>;

const latencies: number[] = [];

/** One player: a guest in a match, playing from what it sees. */
class BotPlayer {
  readonly known = new Map<string, EntityView>();
  me = "";
  tick = 0;
  live = false;
  private seq = 0;
  /** Inputs sent and not yet shown applied: seq → when sent. */
  private readonly pending = new Map<number, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  conn!: ReturnType<ReturnType<Client["match"]["get"]>["connect"]>;
  decodeErrors = 0;

  constructor(
    private readonly client: Client,
    private readonly url: string,
    readonly name: string,
  ) {}

  /**
   * Signs in and queues. Resolves once queued, with the `matched` event still to come: a match
   * forms only when its last player has queued, so callers queue everyone before waiting.
   */
  async queue(): Promise<{ matched: Promise<MatchedEvent> }> {
    const res = await fetch(`${this.url}/api/guest`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: this.name }),
    });
    if (res.status !== 201) throw new Error(`guest: ${res.status} ${await res.text()}`);
    const { token } = (await res.json()) as { token: string };
    const lobby = this.client.matchmaker.getOrCreate(["ffa"], { params: { token } }).connect();
    const matched = new Promise<MatchedEvent>((resolve) => lobby.once("matched", resolve));
    // Once, no retry: every player of a scenario queues at the same moment, and that must work.
    await lobby.queue();
    return {
      matched: matched.then(async (m) => {
        await lobby.dispose();
        return m;
      }),
    };
  }

  /** Joins the match it was given and starts playing. */
  join({ matchId, ticket }: MatchedEvent): string {
    this.conn = this.client.match.get([matchId], { params: { ticket } }).connect();
    this.conn.onError((e) => {
      if (!stopping) console.error(`[bench] ${this.name}: ${e.code} ${e.message}`);
    });
    this.conn.on("welcome", (w) => {
      this.me = w.you;
      this.live = w.phase === "live";
    });
    this.conn.on("phase", (p) => (this.live = p.phase === "live"));
    this.conn.on("snapshot", (payload) => this.onSnapshot(payload));
    this.timer = setInterval(() => this.sendInput(), TICK_MS);
    return matchId;
  }

  private onSnapshot(payload: WireSnapshot): void {
    const now = performance.now();
    let s: ReturnType<typeof decodeSnapshot>;
    try {
      s = decodeSnapshot(payload, this.known);
    } catch {
      this.decodeErrors += 1;
      return;
    }
    applyDelta(this.known, s);
    this.tick = s.t;
    for (const [seq, sentAt] of this.pending) {
      if (seq > s.ack) break;
      if (meter.on) latencies.push(now - sentAt);
      this.pending.delete(seq);
    }
  }

  /** What `botInput` needs of a world: the players this one can see, and the tick. */
  private visibleWorld(): World {
    const players: Record<string, PlayerEntity> = {};
    for (const v of this.known.values()) {
      if (v.k !== "p") continue;
      players[v.id] = {
        id: v.id,
        x: v.x,
        y: v.y,
        aim: v.a,
        hp: v.hp,
        alive: v.alive,
        respawnTick: 0,
        lastFireTick: 0,
        // Shielded at this tick and no later: all `botInput` asks is whether it is now.
        shieldUntil: v.shielded ? this.tick + 1 : 0,
        kills: 0,
        deaths: 0,
      };
    }
    return { tick: this.tick, rng: 0, nextBulletId: 0, players, bullets: [], pickups: [] };
  }

  private sendInput(): void {
    if (!this.live || !this.known.has(this.me)) return;
    const decision = botInput(this.visibleWorld(), this.me);
    const seq = ++this.seq;
    this.pending.set(seq, performance.now());
    // As the browser sends it (forWire: 4 decimals).
    this.conn.notify.input(
      forWire({
        seq,
        dx: decision.dx,
        dy: decision.dy,
        aimAngle: decision.aim,
        fire: decision.fire,
      }),
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.conn?.dispose();
  }
}

let stopping = false;

function startServer(
  databaseUrl: string,
  tuning: object,
): Promise<{ child: ChildProcess; url: string }> {
  return forkReady(
    fileURLToPath(new URL("server.ts", import.meta.url)),
    { DATABASE_URL: databaseUrl, BENCH_TUNING: JSON.stringify(tuning) },
    true,
  );
}

async function runScenario(baseUrl: string, sc: (typeof SCENARIOS)[number]) {
  const scratch = await createScratchDatabase(baseUrl);
  const { child, url } = await startServer(scratch.url, {
    matchSize: sc.players,
    // Every group fills with players; bots must never take a seat.
    botFillAfterMs: 10 * 60_000,
    countdownMs: 1000,
    matchDurationMs: (WARMUP_MS / 1000 + SECONDS + 120) * 1000,
  });
  progress(`(${sc.id}) server ready at ${url}`);
  const { child: idle } = await forkReady(
    fileURLToPath(new URL("idle-timer.ts", import.meta.url)),
    {},
    false,
  );
  const client = createClient<GameRegistry>(url);
  const total = sc.matches * sc.players;
  const bots = Array.from({ length: total }, (_, i) => new BotPlayer(client, url, `bot${i + 1}`));
  stopping = false;
  // Every player signs in and queues at once (one burst on the matchmaker and the database
  // pool); each match forms with its last player, whose players join it at once.
  const queueStart = performance.now();
  const queued = await Promise.all(bots.map((b) => b.queue()));
  const joins = queued.map((q, i) => q.matched.then((m) => bots[i]!.join(m)));
  const queueSeconds = ((performance.now() - queueStart) / 1000).toFixed(1);
  progress(`(${sc.id}) ${total} players signed in and queued at once in ${queueSeconds} s`);
  const matchIds = await Promise.all(joins);
  if (new Set(matchIds).size !== sc.matches) {
    throw new Error(
      `expected ${sc.matches} matches, the players were put in ${new Set(matchIds).size}`,
    );
  }
  progress(`(${sc.id}) waiting for every match to go live`);
  await until(
    "every match to go live",
    () => bots.every((b) => b.live && b.known.has(b.me)),
    60_000,
  );
  progress(`(${sc.id}) live; measuring after the warm-up`);
  await new Promise((r) => setTimeout(r, WARMUP_MS));

  const loadBefore = loadavg()[0]!;
  latencies.length = 0;
  Object.assign(meter, { on: true, bytes: 0, snapshotBytes: 0, frames: 0 });
  const clientCpu = process.cpuUsage();
  const started = performance.now();
  child.send({ type: "measure" });
  idle.send({ type: "measure" });
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const [report, control] = await Promise.all([
    askReport<ServerReport>(child),
    askReport<IdleTimerReport>(idle),
  ]);
  const wallS = (performance.now() - started) / 1000;
  meter.on = false;
  const cpu = process.cpuUsage(clientCpu);
  const clientCpuPercent = ((cpu.user + cpu.system) / 1e6 / wallS) * 100;

  stopping = true;
  await Promise.all(bots.map((b) => b.stop()));
  await client.dispose();
  await Promise.all([stopChild(child), stopChild(idle)]);
  await scratch.drop();

  const jitter = report.tickIntervalsMs.map((i) => Math.abs(i - TICK_MS));
  const idleJitter = control.intervalsMs.map((i) => Math.abs(i - TICK_MS));
  const { probe } = report;
  const decodeErrors = bots.reduce((n, b) => n + b.decodeErrors, 0);
  const kb = (b: number) => (b / total / wallS / 1000).toFixed(2);
  const ms = (v: number) => v.toFixed(2);
  console.log(
    `\n(${sc.id}) ${sc.matches} match${sc.matches > 1 ? "es" : ""} x ${sc.players} players, ${total} clients, ${SECONDS} s measured`,
  );
  console.log(`  server CPU                    ${report.cpuPercent.toFixed(1)} % of one core`);
  console.log(
    `  tick duration p50 / p99       ${ms(percentile(report.tickDurationsMs, 0.5))} / ${ms(percentile(report.tickDurationsMs, 0.99))} ms   (${report.ticks} ticks; ${(report.ticks / sc.matches / (report.wallMs / 1000)).toFixed(1)} per match per s, ${TICK_RATE_HZ} expected)`,
  );
  console.log(`  tick interval jitter p99      ${ms(percentile(jitter, 0.99))} ms   (target < 4)`);
  console.log(
    `    the ticker's beats, late    ${ms(percentile(report.beatLateMs, 0.5))} / ${ms(percentile(report.beatLateMs, 0.99))} / ${ms(Math.max(0, ...report.beatLateMs))} ms p50 / p99 / max, against their schedule`,
  );
  console.log(
    `    event-loop delay            ${ms(probe.loopDelayMs.p50)} / ${ms(probe.loopDelayMs.p99)} / ${ms(probe.loopDelayMs.max)} ms p50 / p99 / max`,
  );
  console.log(
    `    GC pauses                   ${probe.gc.count} (${ms(probe.gc.totalMs)} ms in all, longest ${ms(probe.gc.maxMs)} ms; ${probe.gc.majorCount} major, longest ${ms(probe.gc.majorMaxMs)} ms)`,
  );
  console.log(
    `    taken off the core          ${probe.involuntarySwitchesPerS.toFixed(0)} times a second (involuntary context switches)`,
  );
  console.log(
    `    an idle ticker's jitter p99 ${ms(percentile(idleJitter, 0.99))} ms   (the same scheduler alone in its own process: the machine's floor)`,
  );
  console.log(
    `  bytes per client per second   ${kb(meter.bytes)} KB, of which snapshots ${kb(meter.snapshotBytes)} KB   (${(meter.frames / total / wallS).toFixed(1)} frames/s; target <= 10 KB at 100 players)`,
  );
  console.log(
    `  input-to-visible p50 / p99    ${ms(percentile(latencies, 0.5))} / ${ms(percentile(latencies, 0.99))} ms   (${latencies.length} inputs; target p50 <= 40)`,
  );
  console.log(`  players' process CPU          ${clientCpuPercent.toFixed(1)} % of one core`);
  console.log(
    `  machine load average          ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after (${availableParallelism()} cores; above that, the server waits for a core)`,
  );
  if (decodeErrors > 0) console.log(`  SNAPSHOTS THAT DID NOT DECODE: ${decodeErrors}`);
  return {
    scenario: sc.id,
    load: [loadBefore, loadavg()[0]!],
    serverCpuPercent: report.cpuPercent,
    // The CPU per match tick: comparable across runs that the machine starved of ticks.
    cpuMsPerMatchTick: ((report.cpuPercent / 100) * report.wallMs) / Math.max(1, report.ticks),
    ticksPerMatchPerS: report.ticks / sc.matches / (report.wallMs / 1000),
    tickP99Ms: percentile(report.tickDurationsMs, 0.99),
    jitterP99Ms: percentile(jitter, 0.99),
    idleJitterP99Ms: percentile(idleJitter, 0.99),
    kbPerClientPerS: meter.bytes / total / wallS / 1000,
    inputToVisibleP50Ms: percentile(latencies, 0.5),
    playersCpuPercent: clientCpuPercent,
  };
}

export type ScenarioFigures = Awaited<ReturnType<typeof runScenario>>;

let base = process.env.DATABASE_URL;
let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
if (!base) {
  embedded = await startEmbeddedPostgres({
    dataDir: join(EMBEDDED_ROOT, `bench-game-${randomBytes(6).toString("hex")}`),
    persistent: false,
  });
  base = embedded.url;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
try {
  console.log(
    `bench:game: server in its own process, players as WebSocket clients in this one; ${SECONDS} s per scenario after ${WARMUP_MS / 1000} s of warm-up`,
  );
  for (const sc of SCENARIOS) {
    const figures = await runScenario(base, sc);
    // For a script that runs this one (bench/colyseus/compare.ts): one JSON line per scenario.
    if (process.env.BENCH_JSON) console.log(`BENCH_JSON ${JSON.stringify(figures)}`);
  }
} finally {
  await embedded?.stop();
}
