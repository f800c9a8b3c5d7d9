/**
 * Scenario (a) of `bench:game` (10 matches × 16 players) against the Colyseus server of
 * bench/colyseus/server.ts, measured the same way: the server in its own process reporting its
 * CPU time and every tick over IPC, the players here as real WebSocket clients (`@colyseus/sdk`,
 * on the same counting `ws` as the Troupe players), 20 inputs a second each, chosen by the
 * game's bot logic (`botInput`) from the state they received. Input-to-visible is from sending
 * an input to the first state patch in which the player's `ack` covers it.
 *
 * Run by bench/colyseus/compare.ts (`pnpm bench:colyseus`), or alone:
 *
 *   BENCH_SECONDS=20 tsx bench/colyseus/run.ts
 */
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { percentile } from "../../src/actors/match.js";
import { botInput } from "../../src/sim/bots.js";
import { TICK_MS, TICK_RATE_HZ } from "../../src/sim/constants.js";
import type { PlayerEntity, World } from "../../src/sim/step.js";
import {
  askReport,
  forkReady,
  installCountingWebSocket,
  meter,
  progress,
  stopChild,
  until,
} from "../harness.js";
import type { ServerReport } from "../server.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 3000);
const MATCHES = 10;
const PLAYERS = 16;

/** Colyseus frames start with their protocol code (low 5 bits): 14 full state, 15 a patch. */
installCountingWebSocket((frame) => {
  const code = (frame[0] ?? 0) & 0x1f;
  return code === 14 || code === 15;
});
// Imported after the counting WebSocket is in place: the SDK picks its WebSocket on import.
const { Client } = await import("@colyseus/sdk");
type SdkRoom = Awaited<ReturnType<InstanceType<typeof Client>["joinById"]>>;

interface PlayerState {
  x: number;
  y: number;
  aim: number;
  hp: number;
  alive: boolean;
  shielded: boolean;
  ack: number;
}
interface ArenaState {
  tick: number;
  players: {
    get(id: string): PlayerState | undefined;
    forEach(cb: (p: PlayerState, id: string) => void): void;
  };
}

const latencies: number[] = [];
let stopping = false;

class ColyseusPlayer {
  me = "";
  room!: SdkRoom;
  private seq = 0;
  private readonly pending = new Map<number, number>();
  private timer: ReturnType<typeof setInterval> | undefined;

  async join(client: InstanceType<typeof Client>, roomId?: string): Promise<string> {
    this.room = roomId ? await client.joinById(roomId) : await client.create("arena");
    this.room.onMessage("welcome", (w: { you: string }) => (this.me = w.you));
    this.room.onMessage("kill", () => {});
    this.room.onError((code, message) => {
      if (!stopping) console.error(`[bench] colyseus room error ${code}: ${message}`);
    });
    this.room.onStateChange((state) => this.onState(state as ArenaState));
    this.timer = setInterval(() => this.sendInput(), TICK_MS);
    return this.room.roomId;
  }

  get live(): boolean {
    return (
      this.me !== "" &&
      (this.room.state as ArenaState | undefined)?.players?.get(this.me) !== undefined
    );
  }

  private onState(state: ArenaState): void {
    const now = performance.now();
    const ack = state.players?.get(this.me)?.ack ?? -1;
    for (const [seq, sentAt] of this.pending) {
      if (seq > ack) break;
      if (meter.on) latencies.push(now - sentAt);
      this.pending.delete(seq);
    }
  }

  /** What `botInput` needs of a world: the players in the state, and the tick. */
  private world(state: ArenaState): World {
    const players: Record<string, PlayerEntity> = {};
    state.players.forEach((p, id) => {
      players[id] = {
        id,
        x: p.x,
        y: p.y,
        aim: p.aim,
        hp: p.hp,
        alive: p.alive,
        respawnTick: 0,
        lastFireTick: 0,
        shieldUntil: p.shielded ? state.tick + 1 : 0,
        kills: 0,
        deaths: 0,
      };
    });
    return { tick: state.tick, rng: 0, nextBulletId: 0, players, bullets: [], pickups: [] };
  }

  private sendInput(): void {
    if (!this.live) return;
    const decision = botInput(this.world(this.room.state as ArenaState), this.me);
    const seq = ++this.seq;
    this.pending.set(seq, performance.now());
    this.room.send("input", {
      seq,
      dx: decision.dx,
      dy: decision.dy,
      aimAngle: decision.aim,
      fire: decision.fire,
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.room?.leave(true).catch(() => {});
  }
}

const { child, url } = await forkReady(
  fileURLToPath(new URL("server.ts", import.meta.url)),
  { BENCH_MATCH_SIZE: String(PLAYERS) },
  true,
);
progress(`(a, Colyseus) server ready at ${url}`);
const client = new Client(url);
const players: ColyseusPlayer[] = [];
for (let m = 0; m < MATCHES; m++) {
  // One room per match, filled by its 16 players (the first creates it, the others join it).
  const first = new ColyseusPlayer();
  const roomId = await first.join(client);
  const rest = Array.from({ length: PLAYERS - 1 }, () => new ColyseusPlayer());
  await Promise.all(rest.map((p) => p.join(client, roomId)));
  players.push(first, ...rest);
}
progress(
  `(a, Colyseus) ${players.length} players in ${MATCHES} rooms; measuring after the warm-up`,
);
await until("every player to see itself", () => players.every((p) => p.live), 60_000);
await new Promise((r) => setTimeout(r, WARMUP_MS));

const loadBefore = loadavg()[0]!;
latencies.length = 0;
Object.assign(meter, { on: true, bytes: 0, snapshotBytes: 0, frames: 0 });
const clientCpu = process.cpuUsage();
const startedAt = performance.now();
child.send({ type: "measure" });
await new Promise((r) => setTimeout(r, SECONDS * 1000));
const report = await askReport<ServerReport>(child);
const wallS = (performance.now() - startedAt) / 1000;
meter.on = false;
const cpu = process.cpuUsage(clientCpu);
stopping = true;
await Promise.all(players.map((p) => p.stop()));
await stopChild(child);

const total = MATCHES * PLAYERS;
const jitter = report.tickIntervalsMs.map((i) => Math.abs(i - TICK_MS));
const figures = {
  scenario: "a",
  load: [loadBefore, loadavg()[0]!],
  serverCpuPercent: report.cpuPercent,
  // The CPU per match tick: comparable across runs that the machine starved of ticks.
  cpuMsPerMatchTick: ((report.cpuPercent / 100) * report.wallMs) / Math.max(1, report.ticks),
  ticksPerMatchPerS: report.ticks / MATCHES / (report.wallMs / 1000),
  tickP99Ms: percentile(report.tickDurationsMs, 0.99),
  jitterP99Ms: percentile(jitter, 0.99),
  kbPerClientPerS: meter.bytes / total / wallS / 1000,
  inputToVisibleP50Ms: percentile(latencies, 0.5),
  playersCpuPercent: ((cpu.user + cpu.system) / 1e6 / wallS) * 100,
};
const ms = (v: number) => v.toFixed(2);
const { probe } = report;
console.log(
  `\n(a, Colyseus) ${MATCHES} rooms x ${PLAYERS} players, ${total} clients, ${SECONDS} s measured`,
);
console.log(`  server CPU                    ${figures.serverCpuPercent.toFixed(1)} % of one core`);
console.log(
  `  tick duration p50 / p99       ${ms(percentile(report.tickDurationsMs, 0.5))} / ${ms(figures.tickP99Ms)} ms   (${report.ticks} ticks; ${figures.ticksPerMatchPerS.toFixed(1)} per room per s, ${TICK_RATE_HZ} expected)`,
);
console.log(`  tick interval jitter p99      ${ms(figures.jitterP99Ms)} ms`);
console.log(
  `    event-loop delay            ${ms(probe.loopDelayMs.p50)} / ${ms(probe.loopDelayMs.p99)} / ${ms(probe.loopDelayMs.max)} ms p50 / p99 / max; GC ${probe.gc.count} pauses, ${ms(probe.gc.totalMs)} ms`,
);
console.log(
  `  bytes per client per second   ${figures.kbPerClientPerS.toFixed(2)} KB, of which state ${(meter.snapshotBytes / total / wallS / 1000).toFixed(2)} KB   (${(meter.frames / total / wallS).toFixed(1)} frames/s)`,
);
console.log(
  `  input-to-visible p50 / p99    ${ms(figures.inputToVisibleP50Ms)} / ${ms(percentile(latencies, 0.99))} ms   (${latencies.length} inputs)`,
);
console.log(
  `  players' process CPU          ${figures.playersCpuPercent.toFixed(1)} % of one core`,
);
console.log(
  `  machine load average          ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after (${availableParallelism()} cores)`,
);
if (process.env.BENCH_JSON) console.log(`BENCH_JSON ${JSON.stringify(figures)}`);
process.exit(0);
