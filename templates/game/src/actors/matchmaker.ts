/**
 * `matchmaker`, keyed `[mode]`: the coordinator that turns a queue of players into matches.
 *
 * A player connects with their guest token (identity comes only from it) and calls `queue()`.
 * Their rating is read from SQL (the lookups of players queuing together in one query); the entry is kept in state with a durable bot-fill alarm
 * (`c.schedule.after`). A full group of compatible players (see `matchmaking/queue.ts`) becomes a
 * match at once; otherwise, when a player's alarm fires, they get a match with whoever is
 * compatible then, filled with bots. The matchmaker creates the `match` actor keyed
 * `[matchId]` (`getOrCreate` with `createWithInput`: the seats, the bots, the mode) and sends
 * each player's connection a `matched` event with the match id and a signed match ticket.
 *
 * One entry per player: queuing from a second tab moves the entry there (keeping its place) and
 * tells the first tab (`queueLeft`, reason `replaced`). `leave()` and a closed connection remove
 * the entry and its alarm. Entries are tied to connections, so after a restart (no connection
 * survives one) the queue starts empty and clients queue again when they reconnect.
 */
import { randomUUID } from "node:crypto";
import type { ActorDefinition, Client, Conn, Registry } from "troupe";
import { actor, event, UserError } from "troupe";
import type { Guest } from "../auth.js";
import { createRatingReader, ratingsOf } from "../db/results.js";
import {
  enqueuePlayer,
  fillGroup,
  findFullGroup,
  type Queue,
  type QueueEntry,
  ratingWindow,
  removeFromQueue,
} from "../matchmaking/queue.js";
import type { MatchInput } from "./match.js";
import {
  assertAlarm,
  callerOf,
  DEFAULT_TUNING,
  type GameServices,
  type GameTuning,
  MODES,
  type Mode,
} from "./services.js";

/** After a match could not be created, its players get another try this much later. */
export const RETRY_MATCH_MS = 1000;

export interface MatchmakerConnParams {
  token?: string;
}

export interface MatchedEvent {
  matchId: string;
  /** The match ticket: connection params `{ ticket }` of `match [matchId]`. */
  ticket: string;
  /** Who else is in it (names), and how many bots. */
  players: string[];
  bots: number;
}

export interface QueueStatus {
  queued: boolean;
  queuedAt: number | null;
  rating: number | null;
  /** The rating difference accepted now. */
  window: number | null;
  /** Players waiting in this mode. */
  waiting: number;
}

export interface MatchmakerState {
  mode: Mode;
  queue: Queue;
  matchesFormed: number;
}

/** The match as the matchmaker sees it (only creation with input), keeping the types acyclic. */
type MatchView = Registry<{
  match: ActorDefinition<any, any, any, any, MatchInput, {}>;
}>;

const matchmakerEvents = {
  queued: event<QueueStatus>(),
  matched: event<MatchedEvent>(),
  queueLeft: event<{ reason: "replaced" | "left" }>(),
};
type MatchmakerEvents = typeof matchmakerEvents;

/** What `startMatch` uses of an action's context. */
interface MatchmakerContext {
  state: MatchmakerState;
  conns: Map<string, Conn<MatchmakerConnParams | undefined, Guest, MatchmakerEvents>>;
  schedule: {
    cancel(id: string): boolean;
    after(ms: number, action: string, ...args: unknown[]): Promise<string>;
  };
  client<R>(): Client<R>;
}

function modeOf(key: readonly string[]): Mode {
  const mode = key[0];
  if (key.length !== 1 || !MODES.includes(mode as Mode)) {
    throw new UserError(
      `There is no game mode ${JSON.stringify(key)}; modes: ${MODES.join(", ")}.`,
      {
        code: "unknown_mode",
      },
    );
  }
  return mode as Mode;
}

export function createMatchmaker(services: GameServices) {
  const tuning: GameTuning = { ...DEFAULT_TUNING, ...services.tuning };
  const ratingOf = createRatingReader((ids) => ratingsOf(services.db, ids));

  return actor({
    /** Any signed-in guest may create the matchmaker of a known mode, and only under `[mode]`. */
    onBeforeCreate: async (_c, { key, params }) => {
      modeOf(key);
      await services.auth.verifyGuest((params as MatchmakerConnParams | undefined)?.token);
    },
    createState: (c: { key: readonly string[] }): MatchmakerState => ({
      mode: modeOf(c.key),
      queue: {},
      matchesFormed: 0,
    }),
    createConnState: async (c, params: MatchmakerConnParams | undefined): Promise<Guest> => {
      modeOf(c.key);
      return services.auth.verifyGuest(params?.token);
    },
    events: matchmakerEvents,

    onWake: (c) => {
      // Entries belong to connections, and none survives a restart.
      for (const entry of Object.values(c.state.queue)) {
        if (c.conns.has(entry.connId)) continue;
        if (entry.alarmId) c.schedule.cancel(entry.alarmId);
        delete c.state.queue[entry.playerId];
      }
    },

    onDisconnect: (c, conn) => {
      const entry = removeFromQueue(c.state.queue, { connId: conn.id });
      if (entry?.alarmId) c.schedule.cancel(entry.alarmId);
    },

    actions: {
      /** Joins the queue (or, queued already, moves the entry to this connection). */
      queue: async (c): Promise<QueueStatus> => {
        const conn = callerOf(c.conn);
        const guest = conn.state;
        const rating = await ratingOf(guest.id).catch((err: Error) => {
          // drizzle wraps the driver's error ("Failed query: …"): its cause says what went wrong.
          c.log.warn("could not read a rating from SQL", { error: err, cause: err.cause });
          throw new UserError("The leaderboard database is unavailable; try again shortly.", {
            code: "database_unavailable",
          });
        });
        const now = Date.now();
        const { entry, replaced, added } = enqueuePlayer(
          c.state.queue,
          { playerId: guest.id, name: guest.name, rating, connId: conn.id },
          now,
        );
        if (replaced) c.conns.get(replaced)?.send("queueLeft", { reason: "replaced" });
        if (added) {
          entry.alarmId = await c.schedule.after(
            tuning.botFillAfterMs,
            "fill",
            entry.playerId,
            entry.queuedAt,
          );
        }
        const group = findFullGroup(Object.values(c.state.queue), now, tuning.matchSize);
        if (group) await startMatch(c, group, []);
        return statusOf(c.state, guest.id, now);
      },

      /** Leaves the queue; false if the player was not in it. */
      leave: (c): boolean => {
        const conn = callerOf(c.conn);
        const entry = removeFromQueue(c.state.queue, { playerId: conn.state.id });
        if (!entry) return false;
        if (entry.alarmId) c.schedule.cancel(entry.alarmId);
        if (entry.connId !== conn.id) {
          c.conns.get(entry.connId)?.send("queueLeft", { reason: "left" });
        }
        return true;
      },

      queueStatus: (c): QueueStatus => statusOf(c.state, callerOf(c.conn).state.id, Date.now()),

      /** Alarm: the player queued at `queuedAt` waited long enough; fill their match with bots. */
      fill: async (c, playerId: string, queuedAt: number) => {
        assertAlarm(c.conn);
        const entry = c.state.queue[playerId];
        // Matched, gone or queued again since: this alarm is stale.
        if (!entry || entry.queuedAt !== queuedAt) return;
        const { humans, bots } = fillGroup(
          entry,
          Object.values(c.state.queue),
          Date.now(),
          tuning.matchSize,
        );
        await startMatch(c, humans, bots);
      },
    },
  });

  async function startMatch(
    c: MatchmakerContext,
    humans: QueueEntry[],
    bots: { playerId: string; name: string; rating: number }[],
  ): Promise<void> {
    // Out of the queue before anything is awaited: a `queue` call or a `fill` alarm running
    // meanwhile must not put the same players into a second match.
    for (const h of humans) {
      removeFromQueue(c.state.queue, { playerId: h.playerId });
      if (h.alarmId) c.schedule.cancel(h.alarmId);
    }
    const matchId = randomUUID();
    const input: MatchInput = {
      mode: c.state.mode,
      players: humans.map((h) => ({ playerId: h.playerId, name: h.name, rating: h.rating })),
      bots,
    };
    try {
      // A fresh id: this creates the match, with its seats as input.
      await c
        .client<MatchView>()
        .match.getOrCreate([matchId], { createWithInput: input })
        .resolve();
    } catch (err) {
      // The match could not be created: those still connected go back to the queue with their
      // places, and try again shortly.
      for (const h of humans) {
        if (!c.conns.has(h.connId) || c.state.queue[h.playerId]) continue;
        const entry: QueueEntry = { ...h, alarmId: undefined };
        c.state.queue[h.playerId] = entry;
        entry.alarmId = await c.schedule.after(RETRY_MATCH_MS, "fill", h.playerId, h.queuedAt);
      }
      throw err;
    }
    c.state.matchesFormed += 1;
    const names = humans.map((h) => h.name);
    const tickets = await Promise.all(
      humans.map((h) => services.auth.signTicket(h.playerId, matchId)),
    );
    humans.forEach((h, i) => {
      c.conns
        .get(h.connId)
        ?.send("matched", { matchId, ticket: tickets[i]!, players: names, bots: bots.length });
    });
  }
}

function statusOf(state: MatchmakerState, playerId: string, now: number): QueueStatus {
  const entry = state.queue[playerId];
  return {
    queued: Boolean(entry),
    queuedAt: entry?.queuedAt ?? null,
    rating: entry?.rating ?? null,
    window: entry ? ratingWindow(now - entry.queuedAt) : null,
    waiting: Object.keys(state.queue).length,
  };
}
