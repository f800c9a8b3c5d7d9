/**
 * What the actors get from the app around them (tokens, the database, tunables), passed to
 * `createRegistry` rather than imported as globals, so that tests run several independent apps
 * side by side and shrink the timings.
 */
import { UserError } from "troupe";
import type { Auth } from "../auth.js";
import type { Db } from "../db/index.js";
import { BOT_FILL_AFTER_MS, MATCH_SIZE } from "../matchmaking/queue.js";
import type { TickInput, World } from "../sim/step.js";

/** Game modes, each with its own matchmaker (`matchmaker [mode]`). */
export const MODES = ["ffa"] as const;
export type Mode = (typeof MODES)[number];

/** From a match being formed to the first tick: players load the arena and see the countdown. */
export const COUNTDOWN_MS = 3000;
/** How long a match is live. */
export const MATCH_DURATION_MS = 3 * 60 * 1000;
/** A player whose connection dropped keeps their place (and entity) this long. */
export const RECONNECT_GRACE_MS = 20_000;
/** A connected player that sends no input for this long is disconnected (`afk`). */
export const AFK_MS = 60_000;
/** After the end, how often the match retries writing its results while SQL is away. */
export const FINISH_RETRY_MS = 5000;
/**
 * Once SQL has the results, the match keeps them this long before it is destroyed: a player who
 * reloads the page as the match ends is refused with `match_over` and the results with it.
 */
export const RESULTS_KEEP_MS = 60_000;
/**
 * Kills and deaths reach the match's stored state at most this often while the loop runs (and
 * whenever the loop stops or someone reads the scores): every stored change is a storage write,
 * and the reply of any action called meanwhile waits for the one pending. The kills still reach
 * the players in the snapshot of their tick; a crash loses at most this much of the scores,
 * along with the world itself (vars).
 */
export const SCORE_STORE_MS = 1000;
/** `resync` (a full snapshot) at most this often per connection; more often is refused. */
export const RESYNC_MIN_INTERVAL_MS = 1000;

export interface GameTuning {
  matchSize: number;
  botFillAfterMs: number;
  countdownMs: number;
  matchDurationMs: number;
  reconnectGraceMs: number;
  afkMs: number;
  finishRetryMs: number;
  resultsKeepMs: number;
}

export const DEFAULT_TUNING: GameTuning = {
  matchSize: MATCH_SIZE,
  botFillAfterMs: BOT_FILL_AFTER_MS,
  countdownMs: COUNTDOWN_MS,
  matchDurationMs: MATCH_DURATION_MS,
  reconnectGraceMs: RECONNECT_GRACE_MS,
  afkMs: AFK_MS,
  finishRetryMs: FINISH_RETRY_MS,
  resultsKeepMs: RESULTS_KEEP_MS,
};

export interface GameServices {
  auth: Auth;
  db: Db;
  /** Overrides of the timings and sizes above (tests use small values). */
  tuning?: Partial<GameTuning>;
  /** What bots do each tick (default `botInput`); tests swap in a failing one. */
  botBrain?: (world: World, entity: string) => TickInput;
  /**
   * Told about every tick of every match (opt-in, for `bench:game`; unset, the loop does no
   * extra work).
   */
  onTick?: (tick: TickReport) => void;
}

/** One tick of a match's loop, for `onTick`. */
export interface TickReport {
  matchId: string;
  /** How long the tick's work took (ms). */
  durationMs: number;
  /** Time since the previous tick started (ms); 0 for a loop's first tick. */
  intervalMs: number;
  /** How late the ticker's beat that ran this tick started against its schedule (ms). */
  beatLateMs: number;
  /** Connections the tick sent snapshots to. */
  connections: number;
}

export function forbidden(message: string): UserError {
  return new UserError(message, { code: "forbidden" });
}

/**
 * The connection that called an action meant for players; alarms and trusted in-process calls
 * have none (`c.conn` is undefined) and are refused.
 */
export function callerOf<C>(conn: C | undefined): C {
  if (!conn) throw forbidden("This action is for a connected player.");
  return conn;
}

/** Actions that only the actor's own alarms may run (they have no connection). */
export function assertAlarm(conn: unknown): void {
  if (conn) throw forbidden("This action is run by the game server itself.");
}

/** Environment variables that override the tuning (e.g. short matches for the e2e tests). */
export const TUNING_ENV: Record<string, keyof GameTuning> = {
  GAME_MATCH_SIZE: "matchSize",
  GAME_BOT_FILL_AFTER_MS: "botFillAfterMs",
  GAME_COUNTDOWN_MS: "countdownMs",
  GAME_MATCH_DURATION_MS: "matchDurationMs",
  GAME_RECONNECT_GRACE_MS: "reconnectGraceMs",
  GAME_AFK_MS: "afkMs",
  GAME_RESULTS_KEEP_MS: "resultsKeepMs",
};

/** The tuning the environment asks for; throws a sentence naming the variable if one is not a number. */
export function tuningFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<GameTuning> {
  const tuning: Partial<GameTuning> = {};
  for (const [name, field] of Object.entries(TUNING_ENV)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const value = Number(raw);
    const min = field === "matchSize" ? 1 : 0;
    if (!Number.isInteger(value) || value < min) {
      throw new Error(`${name} must be a whole number (at least ${min}), not "${raw}".`);
    }
    tuning[field] = value;
  }
  return tuning;
}
