/**
 * `match`, keyed `[matchId]`: one arena, simulated by the server at `TICK_RATE_HZ`.
 *
 * Created only by the matchmaker (in-process, `createWithInput`: the seats and the bots); every
 * other creator is refused in `onBeforeCreate`. What must outlive a restart is in state: the
 * seats with their scores, the phase, when it starts and ends, and the results until SQL has
 * them. Positions, bullets and the rest of the world live in `vars` and change every tick without
 * a storage write; after a restart the match resumes from its state with everyone respawned.
 *
 * Phases: `countdown` (a durable alarm at `startsAt` runs `begin`), `live` (the loop runs; a
 * durable alarm at `endsAt` runs `end`), `ended` (results computed, queued for SQL through the
 * outbox and broadcast; `finish` retries until SQL has them, then closes every connection; the
 * results are kept for `resultsKeepMs` (a reload then gets them with its `match_over` refusal),
 * then `discard` destroys the match).
 *
 * The loop runs only while the match is live and awake: started by `begin` or on wake, stopped on
 * end and on sleep. Each tick: inputs (the oldest queued one of each player, in `seq` order, at
 * most one per tick; the bots' decisions), one `step`, kills counted (into state once a second,
 * `SCORE_STORE_MS`), each connection's snapshot: only what is in its view, as changes against
 * what it last received (`interest/`), with the `seq` of its last input applied (`ack`), for the
 * client's reconciliation; and the AFK check. One entity whose update throws is logged and
 * removed; the others play on.
 *
 * Connections: only with a valid match ticket for this match (`createConnState`; identity from
 * the ticket, never from arguments). Inputs go through the connection's `InputGuard`; a flood
 * closes that connection (`input_flood`). A player whose connection drops keeps their entity for
 * `reconnectGraceMs` (a durable alarm, `kickIfAway`); a connected player that sends nothing for
 * `afkMs` is disconnected (`afk`), which starts the same grace. On (re)connecting a player gets a
 * full snapshot and a fresh ticket to reconnect with until the match ends; a client that could
 * not read a snapshot asks for a full one with `resync`.
 */
import type { ActionContextOf, ActorContextOf } from "troupe";
import { actor, type EventSpec, event, UserError } from "troupe";
import { enqueue, OutboxFlusher, type OutboxState } from "troupe/outbox";
import { z } from "zod";
import { type GameOutboxEntry, type MatchResults, writeResults } from "../db/results.js";
import { type InputCounters, InputGuard, InputQueue } from "../input/input.js";
import { SnapshotEncoder, SnapshotReceiver } from "../interest/snapshots.js";
import { encodeKills, type Kill, type WireSnapshot } from "../interest/wire.js";
import { eloChanges } from "../matchmaking/elo.js";
import { botInput } from "../sim/bots.js";
import { SEND_EVERY_TICKS, TICK_MS, TICK_RATE_HZ } from "../sim/constants.js";
import { seedFrom } from "../sim/rng.js";
import { type ScoreLine, sortScores } from "../sim/scores.js";
import { createWorld, step, type TickInput, type World } from "../sim/step.js";
import {
  assertAlarm,
  DEFAULT_TUNING,
  type GameServices,
  type GameTuning,
  MODES,
  RESYNC_MIN_INTERVAL_MS,
  SCORE_STORE_MS,
} from "./services.js";
import { Ticker } from "./ticker.js";

/** Most seats in a match (the matchmaker's size is lower; this bounds what input may ask for). */
export const MAX_SEATS = 100;

export interface MatchInput {
  mode: string;
  players: { playerId: string; name: string; rating: number }[];
  bots: { playerId: string; name: string; rating: number }[];
}

export interface Seat {
  /** The entity id in the world and in snapshots (`p1`, `p2`, …). */
  entity: string;
  playerId: string;
  name: string;
  rating: number;
  bot: boolean;
  kills: number;
  deaths: number;
  /** Kicked (away past the grace, or removed after an error): out of the world for good. */
  left: boolean;
  /** The pending `kickIfAway` alarm while the player is disconnected. */
  awayAlarm: string | null;
}

export type Phase = "countdown" | "live" | "ended";

export interface MatchState extends OutboxState<GameOutboxEntry> {
  matchId: string;
  mode: string;
  seed: number;
  phase: Phase;
  createdAt: number;
  startsAt: number;
  startedAt: number | null;
  endsAt: number | null;
  endedAt: number | null;
  /** By entity id. */
  seats: Record<string, Seat>;
  results: MatchResults | null;
}

export interface MatchConnParams {
  ticket?: string;
}

export interface MatchConnState {
  playerId: string;
  entity: string;
}

/** One connection's bookkeeping (in vars). */
interface Slot {
  connId: string;
  entity: string;
  guard: InputGuard;
  /** What its snapshots have told it (see interest/snapshots.ts). */
  receiver: SnapshotReceiver;
  /** Accepted inputs waiting for their tick; its `ack` is the last `seq` applied (-1 before). */
  queue: InputQueue;
  /** Being closed by the match (flood, away): ignored until onDisconnect removes it. */
  closing: boolean;
  /** When this connection last asked for a full snapshot (`resync`). */
  resyncAt: number;
  /** How many of `MatchVars.kills` its score table already had when it connected. */
  killsSeen: number;
}

export interface LoopStats {
  ticks: number;
  /** Durations of the last `SAMPLE` ticks (ms), and intervals between their starts (ms), unordered. */
  durations: number[];
  intervals: number[];
  lastStart: number;
}

export interface MatchVars {
  world: World | null;
  /** Leaves the shared ticker; set while the loop runs. */
  loop: (() => void) | null;
  /** By connection id. */
  slots: Map<string, Slot>;
  /** The input queue of each connected player entity (its slot's), one input taken per tick. */
  inputs: Map<string, InputQueue>;
  lastInputAt: Map<string, number>;
  flusher: OutboxFlusher<GameOutboxEntry> | null;
  stats: LoopStats;
  /** Kills not yet sent: they go in the next snapshots (`k`, interest/wire.ts). */
  kills: Kill[];
  /** Kills and deaths by entity not yet added to the seats in state (see `storeScores`). */
  unstoredScores: Map<string, { kills: number; deaths: number }>;
  /** The entities of the bot seats in the world (set with it, by `buildWorld`). */
  bots: Set<string>;
  /** Every player's snapshot of the current world (interest/snapshots.ts). */
  snapshots: SnapshotEncoder;
}

export interface Seated {
  entity: string;
  name: string;
  bot: boolean;
}

export interface WelcomeEvent {
  matchId: string;
  you: string;
  phase: Phase;
  startsAt: number;
  endsAt: number | null;
  seats: Seated[];
  /** Connection params for reconnecting to this match until it ends. */
  ticket: string;
  tickRate: number;
}

export type { ScoreLine };

const matchEvents = {
  welcome: event<WelcomeEvent>(),
  /**
   * Compact deltas (interest/wire.ts): a client reads them with `decodeSnapshot`. They carry the
   * kills too, each in the snapshot of its tick (`decodeKills`).
   */
  snapshot: event<WireSnapshot>(),
  phase: event<{ phase: Phase; startsAt: number; endsAt: number | null }>(),
  /** The whole table, on (re)connecting; then each kill a snapshot carries is the change. */
  scores: event<ScoreLine[]>(),
  left: event<{ entity: string; reason: "away" | "error" }>(),
  results: event<MatchResults & { ratingsAfter: Record<string, number> }>(),
};
type MatchEvents = typeof matchEvents;

/** Tick durations and intervals kept for the loop's figures. */
const SAMPLE = 200;
/** Ticks between two `storeScores` while the loop runs. */
const SCORE_STORE_TICKS = Math.max(1, Math.round(SCORE_STORE_MS / TICK_MS));

const inputSchema = z.object({
  mode: z.enum(MODES),
  players: z
    .array(z.object({ playerId: z.string().min(1), name: z.string(), rating: z.number().int() }))
    .min(1),
  bots: z.array(z.object({ playerId: z.string().min(1), name: z.string(), rating: z.number() })),
});

function notFound(): UserError {
  return new UserError("There is no such match.", { code: "match_not_found" });
}

export function createMatch(services: GameServices) {
  const tuning: GameTuning = { ...DEFAULT_TUNING, ...services.tuning };
  const brain = services.botBrain ?? botInput;
  // One timer for every match of this server: each live match is stepped in turn at each beat.
  const ticker = new Ticker(TICK_MS, {
    onError: (err) => console.error("[game] a match loop failed:", err),
  });

  const match = actor({
    /** Only the matchmaker creates matches (in-process, without params: it skips this hook). */
    onBeforeCreate: () => {
      throw notFound();
    },

    createState: (c: { key: readonly string[] }, input: MatchInput | undefined): MatchState => {
      const parsed = inputSchema.safeParse(input);
      const [matchId] = c.key;
      if (!parsed.success || c.key.length !== 1 || !matchId) throw notFound();
      const all = [
        ...parsed.data.players.map((p) => ({ ...p, bot: false })),
        ...parsed.data.bots.map((b) => ({ ...b, bot: true })),
      ];
      if (all.length > MAX_SEATS) throw notFound();
      const seats: Record<string, Seat> = {};
      all.forEach((p, i) => {
        const entity = `p${i + 1}`;
        seats[entity] = {
          entity,
          playerId: p.playerId,
          name: p.name,
          rating: p.rating,
          bot: p.bot,
          kills: 0,
          deaths: 0,
          left: false,
          awayAlarm: null,
        };
      });
      const now = Date.now();
      return {
        matchId,
        mode: parsed.data.mode,
        seed: seedFrom(matchId),
        phase: "countdown",
        createdAt: now,
        startsAt: now + tuning.countdownMs,
        startedAt: null,
        endsAt: null,
        endedAt: null,
        seats,
        results: null,
        outbox: [],
        outboxSeq: 0,
      };
    },

    createVars: (): MatchVars => ({
      world: null,
      loop: null,
      slots: new Map(),
      inputs: new Map(),
      lastInputAt: new Map(),
      flusher: null,
      stats: { ticks: 0, durations: [], intervals: [], lastStart: 0 },
      kills: [],
      unstoredScores: new Map(),
      bots: new Set(),
      snapshots: new SnapshotEncoder(),
    }),

    createConnState: async (c, params: MatchConnParams | undefined): Promise<MatchConnState> => {
      const playerId = await services.auth.verifyTicket(params?.ticket, c.state.matchId);
      const seat = Object.values(c.state.seats).find((s) => s.playerId === playerId && !s.bot);
      if (!seat) {
        throw new UserError("You have no seat in this match.", { code: "not_in_match" });
      }
      if (c.state.phase === "ended") {
        // A player reloading as the match ended gets what the others saw: the results.
        const { results } = c.state;
        throw new UserError("This match is over.", {
          code: "match_over",
          metadata: { results: results ? resultsEvent(results) : null },
        });
      }
      if (seat.left) {
        throw new UserError("You left this match (away too long).", { code: "left_match" });
      }
      return { playerId, entity: seat.entity };
    },

    events: matchEvents,

    onWake: async (c) => {
      c.vars.flusher = new OutboxFlusher<GameOutboxEntry>({
        get state() {
          return c.state;
        },
        write: (batch) => writeResults(services.db, batch),
        keepAwake: (p) => c.waitUntil(p),
        log: c.log,
      });
      const { phase } = c.state;
      if (phase === "ended") {
        if (!c.schedule.list().some((a) => a.action === "finish" || a.action === "discard")) {
          await c.schedule.after(0, "finish");
        }
        return;
      }
      buildWorld(c);
      if (phase === "countdown" && !c.schedule.list().some((a) => a.action === "begin")) {
        await c.schedule.at(c.state.startsAt, "begin");
      }
      if (phase === "live") {
        if (!c.schedule.list().some((a) => a.action === "end")) {
          await c.schedule.at(c.state.endsAt!, "end");
        }
        startLoop(c);
      }
      // Players who are not here yet (a new match, or after a restart, which no connection
      // survives) have until the countdown is over plus the grace to show up.
      const showUpBy = Math.max(Date.now(), c.state.startsAt) + tuning.reconnectGraceMs;
      for (const seat of Object.values(c.state.seats)) {
        if (!seat.bot && !seat.left && !seat.awayAlarm) {
          seat.awayAlarm = await c.schedule.at(showUpBy, "kickIfAway", seat.entity);
        }
      }
    },

    onSleep: (c) => {
      stopLoop(c);
      c.vars.flusher?.stop();
    },

    onConnect: async (c, conn) => {
      const { entity } = conn.state;
      const ticketTtl = Math.ceil(
        ((c.state.endsAt ?? c.state.startsAt + tuning.matchDurationMs) -
          Date.now() +
          tuning.reconnectGraceMs) /
          1000,
      );
      const ticket = await services.auth.signTicket(
        conn.state.playerId,
        c.state.matchId,
        ticketTtl,
      );
      // From here on synchronous: the connection joins the players the match talks to (`tell`,
      // snapshots) at the same moment as it is told the phase, so it misses nothing in between.
      const seat = c.state.seats[entity]!;
      // A second tab (or a reconnect the server has not noticed yet) takes over the seat.
      for (const slot of c.vars.slots.values()) {
        if (slot.entity === entity && slot.connId !== conn.id) {
          c.vars.slots.delete(slot.connId);
          void c.conns.get(slot.connId)?.disconnect("replaced");
        }
      }
      if (seat.awayAlarm) {
        c.schedule.cancel(seat.awayAlarm);
        seat.awayAlarm = null;
      }
      const guard = new InputGuard();
      const slot: Slot = {
        connId: conn.id,
        entity,
        guard,
        receiver: new SnapshotReceiver(),
        queue: new InputQueue(guard.counters),
        closing: false,
        resyncAt: Number.NEGATIVE_INFINITY,
        // The table it is about to get has the kills counted so far, unsent ones included.
        killsSeen: c.vars.kills.length,
      };
      c.vars.slots.set(conn.id, slot);
      c.vars.inputs.set(entity, slot.queue);
      c.vars.lastInputAt.set(entity, Date.now());
      conn.send("welcome", {
        matchId: c.state.matchId,
        you: entity,
        phase: c.state.phase,
        startsAt: c.state.startsAt,
        endsAt: c.state.endsAt,
        seats: seated(c.state),
        ticket,
        tickRate: TICK_RATE_HZ,
      });
      storeScores(c);
      conn.send("scores", scoreLines(c.state));
      // A full snapshot now, so a player joining during the countdown sees the arena at once.
      const world = c.vars.world;
      const me = world?.players[entity];
      if (world && me) sendSnapshot(c, conn, slot, world, me);
    },

    onDisconnect: async (c, conn) => {
      const slot = c.vars.slots.get(conn.id);
      if (!slot) return;
      c.vars.slots.delete(conn.id);
      c.vars.inputs.delete(slot.entity);
      const seat = c.state.seats[slot.entity];
      if (!seat || seat.left || c.state.phase === "ended") return;
      if ([...c.vars.slots.values()].some((s) => s.entity === slot.entity)) return;
      if (seat.awayAlarm) c.schedule.cancel(seat.awayAlarm);
      seat.awayAlarm = await c.schedule.after(tuning.reconnectGraceMs, "kickIfAway", seat.entity);
    },

    actions: {
      /**
       * One input: `{ seq, dx, dy, aimAngle, fire }`. Dropped inputs are counted, not answered
       * with an error (see input.ts); a flood closes this connection.
       *
       * Clients send it as a notification (`conn.notify.input(…)`): a reply would say nothing
       * (`ack` in the snapshots says when an input was applied) and would cost the server a
       * frame and a write per input, at 20 inputs a second per player. It returns at once, so
       * the runtime needs no timer for it either.
       */
      input: (c, raw: unknown): void => {
        const conn = c.conn;
        const slot = conn && c.vars.slots.get(conn.id);
        if (!conn || !slot)
          throw new UserError("Connect to the match to play.", { code: "forbidden" });
        if (slot.closing) return;
        const r = slot.guard.check(raw);
        if (r.ok) {
          c.vars.lastInputAt.set(slot.entity, Date.now());
          // Applied by the loop, one per tick in seq order; before the match is live there is no
          // tick to apply it (the client predicts nothing then either).
          if (c.vars.loop) slot.queue.push(r.input);
        } else if (r.flood) {
          c.log.warn("input flood: closing the connection", {
            match: c.state.matchId,
            entity: slot.entity,
            counters: { ...slot.guard.counters },
          });
          // onDisconnect then gives the player the usual grace to come back.
          slot.closing = true;
          void conn.disconnect("input_flood");
        }
      },

      /**
       * Sends this connection a full snapshot (with the next tick, or now while the loop is not
       * running): a client that could not read a snapshot has a copy out of step with what the
       * match thinks it knows, and deltas cannot repair that. Asking again before the full
       * snapshot has gone changes nothing: at most one full snapshot per tick. Each connection
       * may ask once per `RESYNC_MIN_INTERVAL_MS`; sooner is refused (`rate_limited`), as full
       * snapshots cost many times a delta.
       */
      resync: (c): void => {
        const slot = c.vars.slots.get(c.conn?.id ?? "");
        if (!slot) throw new UserError("Connect to the match first.", { code: "forbidden" });
        if (slot.closing) return;
        const now = Date.now();
        if (now - slot.resyncAt < RESYNC_MIN_INTERVAL_MS) {
          throw new UserError(
            `A full snapshot was sent less than ${RESYNC_MIN_INTERVAL_MS} ms ago; ask again later.`,
            { code: "rate_limited" },
          );
        }
        slot.resyncAt = now;
        slot.receiver.reset();
        // And the whole score table: a client that could not read a snapshot may have missed
        // its kills too. It counts every kill so far; the snapshots carry the ones after it.
        storeScores(c);
        slot.killsSeen = c.vars.kills.length;
        c.conns.get(slot.connId)?.send("scores", scoreLines(c.state));
        const world = c.vars.world;
        const me = world?.players[slot.entity];
        const conn = c.conns.get(slot.connId);
        if (!c.vars.loop && world && me && conn) sendSnapshot(c, conn, slot, world, me);
      },

      /** This connection's input counters (accepted and dropped, by reason). */
      inputStats: (c): InputCounters & { lastSeq: number } => {
        const slot = c.vars.slots.get(c.conn?.id ?? "");
        if (!slot) throw new UserError("Connect to the match first.", { code: "forbidden" });
        return { ...slot.guard.counters, lastSeq: slot.guard.lastSeq };
      },

      /** The match as it stands: phase, times, seats and scores. */
      getMatch: (c) => {
        storeScores(c);
        return {
          matchId: c.state.matchId,
          mode: c.state.mode,
          phase: c.state.phase,
          startsAt: c.state.startsAt,
          startedAt: c.state.startedAt,
          endsAt: c.state.endsAt,
          endedAt: c.state.endedAt,
          scores: scoreLines(c.state),
          results: c.state.results,
        };
      },

      /** The server's clock, for the client's round-trip time (ping) display. */
      ping: (): number => Date.now(),

      /** Figures of the tick loop over its last `SAMPLE` ticks (ms). */
      loopStats: (c) => {
        const { ticks, durations, intervals } = c.vars.stats;
        const jitter = intervals.map((i) => Math.abs(i - TICK_MS));
        return {
          ticks,
          tickMs: { p50: percentile(durations, 0.5), p99: percentile(durations, 0.99) },
          intervalJitterMs: { p50: percentile(jitter, 0.5), p99: percentile(jitter, 0.99) },
        };
      },

      /** Alarm at `startsAt`: the countdown is over. */
      begin: async (c) => {
        assertAlarm(c.conn);
        if (c.state.phase !== "countdown") return;
        const now = Date.now();
        c.state.phase = "live";
        c.state.startedAt = now;
        c.state.endsAt = now + tuning.matchDurationMs;
        await c.schedule.at(c.state.endsAt, "end");
        tell(c, "phase", { phase: "live", startsAt: c.state.startsAt, endsAt: c.state.endsAt });
        startLoop(c);
      },

      /** Alarm at `endsAt`: results, ratings, the outbox, and the broadcast. */
      end: async (c) => {
        assertAlarm(c.conn);
        if (c.state.phase !== "live") return;
        stopLoop(c);
        const results = computeResults(c.state, Date.now());
        c.state.phase = "ended";
        c.state.endedAt = results.endedAt;
        c.state.results = results;
        enqueue(c.state, { kind: "results", results });
        for (const seat of Object.values(c.state.seats)) {
          if (seat.awayAlarm) c.schedule.cancel(seat.awayAlarm);
          seat.awayAlarm = null;
        }
        tell(c, "phase", {
          phase: "ended",
          startsAt: c.state.startsAt,
          endsAt: c.state.endsAt,
        });
        tell(c, "results", resultsEvent(results));
        await c.schedule.after(0, "finish");
      },

      /**
       * Alarm: once SQL has the results, close every connection; the match is destroyed
       * `resultsKeepMs` after its end (`discard`), keeping the results for a player who reloads.
       */
      finish: async (c) => {
        assertAlarm(c.conn);
        if (c.state.phase !== "ended") return;
        if (c.state.outbox.length > 0) await c.vars.flusher?.flushNow();
        if (c.state.outbox.length > 0) {
          // SQL is away: the results wait in state (which survives restarts) and we try again.
          await c.schedule.after(tuning.finishRetryMs, "finish");
          return;
        }
        for (const conn of c.conns.values()) void conn.disconnect("match_over");
        if (!c.schedule.list().some((a) => a.action === "discard")) {
          await c.schedule.at((c.state.endedAt ?? Date.now()) + tuning.resultsKeepMs, "discard");
        }
      },

      /** Alarm: the results have been kept long enough (SQL has them): the match is gone. */
      discard: (c) => {
        assertAlarm(c.conn);
        if (c.state.phase !== "ended" || c.state.outbox.length > 0) return;
        c.destroy();
      },

      /** Alarm: a disconnected player did not come back within the grace. */
      kickIfAway: (c, entity: string) => {
        assertAlarm(c.conn);
        const seat = c.state.seats[entity];
        if (!seat || seat.left || c.state.phase === "ended") return;
        seat.awayAlarm = null;
        if ([...c.vars.slots.values()].some((s) => s.entity === entity)) return;
        removeSeat(c, entity, "away");
      },
    },
  });

  type Ctx = ActorContextOf<typeof match>;

  function buildWorld(c: Ctx): void {
    const active = Object.values(c.state.seats).filter((s) => !s.left);
    const world = createWorld(
      c.state.seed,
      active.map((s) => s.entity),
    );
    for (const seat of active) {
      world.players[seat.entity]!.kills = seat.kills;
      world.players[seat.entity]!.deaths = seat.deaths;
    }
    c.vars.world = world;
    c.vars.bots = new Set(active.filter((s) => s.bot).map((s) => s.entity));
  }

  function startLoop(c: Ctx): void {
    if (c.vars.loop || c.state.phase !== "live") return;
    c.vars.stats.lastStart = 0;
    c.vars.loop = ticker.join(() => {
      const started = performance.now();
      const stats = c.vars.stats;
      const interval = stats.lastStart ? started - stats.lastStart : 0;
      if (stats.lastStart) sample(stats.intervals, interval, stats.ticks);
      stats.lastStart = started;
      try {
        tick(c);
      } catch (err) {
        c.log.error("tick failed", { error: err, match: c.state.matchId });
      }
      const duration = performance.now() - started;
      sample(stats.durations, duration, stats.ticks);
      stats.ticks += 1;
      services.onTick?.({
        matchId: c.state.matchId,
        durationMs: duration,
        intervalMs: interval,
        beatLateMs: ticker.lateMs,
        connections: c.vars.slots.size,
      });
    });
  }

  function stopLoop(c: Ctx): void {
    c.vars.loop?.();
    c.vars.loop = null;
    // Kills a snapshot did not carry (none while a snapshot goes with every tick) are in the
    // score table a player gets on connecting and in the results.
    c.vars.kills.length = 0;
    for (const slot of c.vars.slots.values()) slot.killsSeen = 0;
    storeScores(c);
  }

  /** Counts a kill for now in vars; `storeScores` adds it to the seats (see `SCORE_STORE_MS`). */
  function countKill(c: Ctx, killer: string, victim: string): void {
    const scores = c.vars.unstoredScores;
    for (const [entity, kills, deaths] of [
      [killer, 1, 0],
      [victim, 0, 1],
    ] as const) {
      const s = scores.get(entity);
      if (s) {
        s.kills += kills;
        s.deaths += deaths;
      } else {
        scores.set(entity, { kills, deaths });
      }
    }
  }

  /** Adds the kills and deaths counted since the last time to the seats in state. */
  function storeScores(c: Ctx): void {
    const scores = c.vars.unstoredScores;
    if (scores.size === 0) return;
    for (const [entity, s] of scores) {
      const seat = c.state.seats[entity];
      if (!seat) continue;
      seat.kills += s.kills;
      seat.deaths += s.deaths;
    }
    scores.clear();
  }

  function tick(c: Ctx): void {
    const world = c.vars.world;
    if (!world) return;
    const inputs: Record<string, TickInput> = {};
    // The world's players are the seats that have not left (removeSeat takes both away), in
    // seat order: reading them here costs no walk through the state's change-tracking proxies.
    for (const entity in world.players) {
      if (c.vars.bots.has(entity)) {
        try {
          inputs[entity] = brain(world, entity);
        } catch (err) {
          c.log.error("a bot failed: removed from the match", {
            error: err,
            match: c.state.matchId,
            entity,
          });
          removeSeat(c, entity, "error");
        }
        continue;
      }
      const queue = c.vars.inputs.get(entity);
      if (queue) inputs[entity] = queue.take();
    }
    const { world: next, events } = step(c.vars.world!, inputs);
    c.vars.world = next;

    for (const e of events) {
      if (e.type === "kill") {
        countKill(c, e.killer, e.victim);
        // The players' tables follow from this (applyKill): no whole table on every kill, and
        // no frame of its own either: it goes in the snapshots (sendSnapshots).
        c.vars.kills.push({ killer: e.killer, victim: e.victim });
      } else if (e.type === "removed") {
        c.log.error("an entity failed to update: removed from the match", {
          match: c.state.matchId,
          entity: e.id,
          error: e.error,
        });
        removeSeat(c, e.id, "error");
      }
    }

    if (next.tick % SEND_EVERY_TICKS === 0) sendSnapshots(c, next);
    if (next.tick % SCORE_STORE_TICKS === 0) storeScores(c);

    const now = Date.now();
    for (const slot of c.vars.slots.values()) {
      if (slot.closing) continue;
      if (now - (c.vars.lastInputAt.get(slot.entity) ?? now) > tuning.afkMs) {
        slot.closing = true;
        void c.conns.get(slot.connId)?.disconnect("afk");
      }
    }
  }

  function sendSnapshots(c: Ctx, world: World): void {
    const kills = c.vars.kills;
    if (c.vars.slots.size === 0) {
      kills.length = 0;
      return;
    }
    // Encoded once: every player's snapshot carries the same kills.
    const k = kills.length > 0 ? encodeKills(kills) : undefined;
    for (const slot of c.vars.slots.values()) {
      const conn = c.conns.get(slot.connId);
      const me = world.players[slot.entity];
      const seen = slot.killsSeen;
      slot.killsSeen = 0;
      if (!conn || !me || slot.closing) continue;
      sendSnapshot(c, conn, slot, world, me, seen === 0 ? k : k?.slice(2 * seen));
    }
    kills.length = 0;
  }

  /** What `slot`'s player sees now, as changes against what it had, in the wire format. */
  function sendSnapshot(
    c: Ctx,
    conn: { send(name: "snapshot", payload: WireSnapshot): void },
    slot: Slot,
    world: World,
    me: { x: number; y: number },
    kills?: number[],
  ): void {
    // The world's records are made once per tick, for every player (a no-op after the first).
    c.vars.snapshots.update(world);
    const payload = c.vars.snapshots.encode(slot.receiver, me.x, me.y, slot.queue.ack);
    if (kills && kills.length > 0) payload.k = kills;
    conn.send("snapshot", payload);
  }

  /**
   * Sends an event to every player in the match. Not `c.broadcast`: that reaches a connection
   * only once its client has subscribed, a round trip after it connected, and an event in that
   * gap (the match going live, the results) would be missed.
   */
  function tell<K extends keyof MatchEvents & string>(
    c: Ctx,
    name: K,
    payload: MatchEvents[K] extends EventSpec<infer T> ? T : never,
  ): void {
    for (const slot of c.vars.slots.values()) {
      if (slot.closing) continue;
      (c.conns.get(slot.connId)?.send as ((n: string, p: unknown) => void) | undefined)?.(
        name,
        payload,
      );
    }
  }

  function removeSeat(c: Ctx, entity: string, reason: "away" | "error"): void {
    const seat = c.state.seats[entity];
    if (!seat || seat.left) return;
    seat.left = true;
    if (c.vars.world) {
      // A new object, not a deletion: the world is treated as immutable between steps.
      const { [entity]: _gone, ...players } = c.vars.world.players;
      c.vars.world = { ...c.vars.world, players };
    }
    c.vars.inputs.delete(entity);
    for (const slot of c.vars.slots.values()) {
      if (slot.entity !== entity) continue;
      c.vars.slots.delete(slot.connId);
      void c.conns.get(slot.connId)?.disconnect(reason === "away" ? "left_match" : "removed");
    }
    tell(c, "left", { entity, reason });
  }

  return match;
}

export type MatchDefinition = ReturnType<typeof createMatch>;
export type MatchActionContext = ActionContextOf<MatchDefinition>;

/** The `results` event: the results and each player's rating after them. */
function resultsEvent(
  results: MatchResults,
): MatchResults & { ratingsAfter: Record<string, number> } {
  const ratingsAfter: Record<string, number> = {};
  for (const line of results.lines) {
    ratingsAfter[line.playerId] = line.ratingBefore + line.ratingChange;
  }
  return { ...results, ratingsAfter };
}

/**
 * Keeps the last `SAMPLE` values in place: once full, each new one overwrites the oldest. (It
 * was `push` then `shift`, which moved the whole array on every tick of every match: 3 % of
 * the server's busy time in `bench:game`'s profile.) The order is lost, which the percentiles
 * do not need.
 */
function sample(into: number[], value: number, at: number): void {
  if (into.length < SAMPLE) into.push(value);
  else into[at % SAMPLE] = value;
}

/** The q-quantile of `values` (nearest rank); 0 without values. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function seated(state: MatchState): Seated[] {
  return Object.values(state.seats).map((s) => ({ entity: s.entity, name: s.name, bot: s.bot }));
}

function scoreLines(state: MatchState): ScoreLine[] {
  return sortScores(
    Object.values(state.seats).map((s) => ({
      entity: s.entity,
      name: s.name,
      bot: s.bot,
      kills: s.kills,
      deaths: s.deaths,
    })),
  );
}

/**
 * Ranks (by kills, then fewer deaths; equal players share one), the winner (a sole first place)
 * and Elo changes for humans, each pair of players being a game won by the better rank.
 */
export function computeResults(state: MatchState, endedAt: number): MatchResults {
  const seats = Object.values(state.seats).sort(
    (a, b) => b.kills - a.kills || a.deaths - b.deaths || (a.entity < b.entity ? -1 : 1),
  );
  // Ranks first: the pairwise Elo games are decided by rank (kills, then fewer deaths).
  const ranks = new Map<string, number>();
  seats.forEach((s, i) => {
    const prev = seats[i - 1];
    const tied = prev && s.kills === prev.kills && s.deaths === prev.deaths;
    ranks.set(s.entity, tied ? ranks.get(prev.entity)! : i + 1);
  });
  const changes = eloChanges(
    seats.map((s) => ({ id: s.entity, rating: s.rating, score: -ranks.get(s.entity)! })),
  );
  const firsts = seats.filter((s) => ranks.get(s.entity) === 1).length;
  const lines = seats.map((s) => {
    const rank = ranks.get(s.entity)!;
    return {
      playerId: s.playerId,
      name: s.name,
      bot: s.bot,
      score: s.kills,
      kills: s.kills,
      deaths: s.deaths,
      rank,
      won: rank === 1 && firsts === 1,
      ratingBefore: s.rating,
      ratingChange: s.bot ? 0 : (changes[s.entity] ?? 0),
    };
  });
  return {
    matchId: state.matchId,
    mode: state.mode,
    startedAt: state.startedAt ?? state.startsAt,
    endedAt,
    lines,
  };
}
