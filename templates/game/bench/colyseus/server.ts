/**
 * The Colyseus side of `bench:colyseus`: a Colyseus 0.18 server (`@colyseus/core` with its `ws`
 * transport, state in `@colyseus/schema`) in its own process, with one room type, `arena`, that
 * does the game's work the Colyseus way:
 *
 * - the same simulation (`src/sim`: `createWorld`, `step`) at the same 20 Hz, in the room's own
 *   loop (`setSimulationInterval`), the state patch sent at the end of each tick
 *   (`broadcastPatch`, `patchRate` off) as the game sends its snapshots;
 * - the same input handling: each `input` message through the game's `InputGuard` (rate,
 *   shape, order) into its `InputQueue`, one input per player applied per tick, the `seq` of the
 *   last applied one in the player's state (`ack`) so a client sees when its input took effect;
 * - the same information to the clients: each player's position, aim, health, alive and
 *   shielded flags at the precision of the game's views (`worldViews`), the health packs, each
 *   bullet once with its origin and velocity (the client moves it), kills and deaths, and a
 *   `kill` message per kill.
 *
 * What it does not do is the game's interest management: every client gets the whole arena (a
 * Colyseus room without `StateView`), as a 16-player room of this size mostly sees it anyway.
 *
 * The IPC with bench/colyseus/run.ts is the Troupe server's (bench/server.ts): `ready`,
 * `measure`, `report`, with the same `ServerReport` (CPU share, every tick's duration and
 * interval, the probe's figures).
 */
import { type Client, defineRoom, defineServer, Room } from "@colyseus/core";
import { schema, t } from "@colyseus/schema";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { InputGuard, InputQueue } from "../../src/input/input.js";
import { worldViews } from "../../src/interest/interest.js";
import { TICK_MS } from "../../src/sim/constants.js";
import { seedFrom } from "../../src/sim/rng.js";
import { createWorld, step, type TickInput, type World } from "../../src/sim/step.js";
import { LoopProbe } from "../probe.js";
import type { ServerReport } from "../server.js";

const Player = schema(
  {
    x: t.float32(),
    y: t.float32(),
    aim: t.float32(),
    hp: t.uint8(),
    alive: t.boolean(),
    shielded: t.boolean(),
    kills: t.uint16(),
    deaths: t.uint16(),
    /** The `seq` of this player's last input that a tick applied (-1 before the first). */
    ack: t.int32(),
  },
  "Player",
);
const Bullet = schema(
  { x: t.float32(), y: t.float32(), vx: t.float32(), vy: t.float32(), t: t.uint32() },
  "Bullet",
);
const Pickup = schema({ x: t.float32(), y: t.float32(), on: t.boolean() }, "Pickup");
export const ArenaState = schema(
  {
    tick: t.uint32(),
    players: t.map(Player),
    bullets: t.map(Bullet),
    pickups: t.map(Pickup),
  },
  "ArenaState",
);
type ArenaStateT = InstanceType<typeof ArenaState>;

interface Seat {
  entity: string;
  guard: InputGuard;
  queue: InputQueue;
}

let measuring = false;
let durations: number[] = [];
let intervals: number[] = [];

class ArenaRoom extends Room<{ state: ArenaStateT }> {
  override maxClients = Number(process.env.BENCH_MATCH_SIZE ?? 16);
  // The game's input guard limits the rate; Colyseus's own limit is left above it.
  override maxMessagesPerSecond = 60;
  override state = new ArenaState();
  private world!: World;
  private readonly seats = new Map<string, Seat>();
  private nextSeat = 1;
  private lastStart = 0;

  override onCreate(): void {
    // The patch goes out at the end of each tick (`broadcastPatch` below), as the game's
    // snapshots do, rather than on a timer of its own half a tick out of step on average.
    this.patchRate = null;
    const entities = Array.from({ length: this.maxClients }, (_, i) => `p${i + 1}`);
    this.world = createWorld(seedFrom(this.roomId), entities);
    this.onMessage("input", (client: Client, raw: unknown) => {
      const seat = this.seats.get(client.sessionId);
      if (!seat) return;
      const r = seat.guard.check(raw);
      if (r.ok) seat.queue.push(r.input);
      else if (r.flood) client.leave();
    });
    this.setSimulationInterval(() => this.tick(), TICK_MS);
  }

  override onJoin(client: Client): void {
    const entity = `p${this.nextSeat++}`;
    const guard = new InputGuard();
    this.seats.set(client.sessionId, { entity, guard, queue: new InputQueue(guard.counters) });
    client.send("welcome", { you: entity });
  }

  override onLeave(client: Client): void {
    this.seats.delete(client.sessionId);
  }

  private tick(): void {
    const started = performance.now();
    const interval = this.lastStart ? started - this.lastStart : 0;
    this.lastStart = started;

    const inputs: Record<string, TickInput> = {};
    const acks = new Map<string, number>();
    for (const seat of this.seats.values()) {
      inputs[seat.entity] = seat.queue.take();
      acks.set(seat.entity, seat.queue.ack);
    }
    const { world, events } = step(this.world, inputs);
    this.world = world;
    for (const e of events) {
      if (e.type === "kill") this.broadcast("kill", { killer: e.killer, victim: e.victim });
    }
    this.mirror(world, acks);
    this.broadcastPatch();

    if (measuring) {
      durations.push(performance.now() - started);
      if (interval > 0) intervals.push(interval);
    }
  }

  /** The world into the synchronized state: Colyseus sends what changed with the next patch. */
  private mirror(world: World, acks: Map<string, number>): void {
    const state = this.state;
    state.tick = world.tick;
    const bullets = new Set<string>();
    for (const v of worldViews(world)) {
      if (v.k === "p") {
        const p = state.players.get(v.id) ?? new Player();
        const src = world.players[v.id]!;
        p.x = v.x;
        p.y = v.y;
        p.aim = v.a;
        p.hp = v.hp;
        p.alive = v.alive;
        p.shielded = v.shielded;
        p.kills = src.kills;
        p.deaths = src.deaths;
        p.ack = acks.get(v.id) ?? -1;
        if (!state.players.has(v.id)) state.players.set(v.id, p);
      } else if (v.k === "b") {
        bullets.add(v.id);
        // A bullet is sent once: its origin and velocity (the client moves it).
        if (!state.bullets.has(v.id)) {
          state.bullets.set(v.id, new Bullet({ x: v.x, y: v.y, vx: v.vx, vy: v.vy, t: v.t }));
        }
      } else {
        const h = state.pickups.get(v.id) ?? new Pickup({ x: v.x, y: v.y, on: v.on });
        h.on = v.on;
        if (!state.pickups.has(v.id)) state.pickups.set(v.id, h);
      }
    }
    for (const id of state.bullets.keys()) if (!bullets.has(id)) state.bullets.delete(id);
  }
}

const server = defineServer({
  greet: false,
  // Shut down by the SIGTERM handler below, once.
  gracefullyShutdown: false,
  transport: new WebSocketTransport(),
  rooms: { arena: defineRoom(ArenaRoom) },
});

const probe = new LoopProbe();
let started = { wall: 0, cpu: process.cpuUsage() };
process.on("message", (msg: { type: string }) => {
  if (msg.type === "measure") {
    measuring = true;
    durations = [];
    intervals = [];
    probe.start();
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
      beatLateMs: [],
      probe: probe.stop(),
    };
    process.send?.(report);
  }
});
process.once("SIGTERM", () => {
  server.gracefullyShutdown(false).finally(() => process.exit(0));
});

await server.listen(0, "127.0.0.1");
const address = server.transport.server?.address();
if (!address || typeof address === "string") throw new Error("the transport has no TCP address");
process.send?.({ type: "ready", url: `http://127.0.0.1:${address.port}` });
