/**
 * The matchmaking rules, as plain functions over the queue (the `matchmaker` actor keeps the
 * queue in its state and calls these): who may play whom, when a match is formed, and how bots
 * fill it.
 *
 * - Two players are compatible when their ratings differ by no more than the narrower of their
 *   two windows. A window starts at `BASE_RATING_WINDOW` and widens by
 *   `WINDOW_WIDEN_PER_SECOND` for every second its player has waited, up to `MAX_RATING_WINDOW`.
 * - A match is formed as soon as `MATCH_SIZE` players are compatible with each other
 *   (`findFullGroup`, oldest entries first).
 * - A player who has waited `BOT_FILL_AFTER_MS` gets a match anyway: it and whoever is
 *   compatible with it (and each other) at that moment, filled up with bots (`fillGroup`).
 *
 * @example
 * const group = findFullGroup(queue, Date.now());
 * if (group) startMatch(group, []);
 */

/** Most players in a match (humans and bots). */
export const MATCH_SIZE = 8;
/** Rating difference accepted at once. */
export const BASE_RATING_WINDOW = 100;
/** How much the window widens per second of waiting. */
export const WINDOW_WIDEN_PER_SECOND = 50;
export const MAX_RATING_WINDOW = 1000;
/** After waiting this long a player gets a match, filled with bots. */
export const BOT_FILL_AFTER_MS = 5000;
/** The rating a bot plays at (bots' ratings never change). */
export const BOT_RATING = 1000;

export interface QueueEntry {
  playerId: string;
  name: string;
  rating: number;
  /** When the player joined the queue (ms since epoch); kept when a second tab takes over. */
  queuedAt: number;
  /** The connection that queued (and is told about its match). */
  connId: string;
  /** The durable bot-fill alarm of this entry. */
  alarmId?: string;
}

export interface BotSeat {
  playerId: string;
  name: string;
  rating: number;
}

/** The queue: one entry per player, by player id (so a player can never be in it twice). */
export type Queue = Record<string, QueueEntry>;

/**
 * Queues a player. A player already queued keeps its entry and its place (`queuedAt`): the
 * entry moves to the new connection, and `replaced` names the connection it left (a second
 * tab took over), if any. Queuing again from the same connection changes nothing.
 */
export function enqueuePlayer(
  queue: Queue,
  who: { playerId: string; name: string; rating: number; connId: string },
  now: number,
): { entry: QueueEntry; replaced?: string; added: boolean } {
  const existing = queue[who.playerId];
  if (existing) {
    const replaced = existing.connId !== who.connId ? existing.connId : undefined;
    existing.connId = who.connId;
    existing.name = who.name;
    return { entry: existing, replaced, added: false };
  }
  const entry: QueueEntry = { ...who, queuedAt: now };
  queue[who.playerId] = entry;
  return { entry, replaced: undefined, added: true };
}

/** Removes the entry of the player, or of the connection; returns it if there was one. */
export function removeFromQueue(
  queue: Queue,
  by: { playerId: string } | { connId: string },
): QueueEntry | undefined {
  const entry =
    "playerId" in by
      ? queue[by.playerId]
      : Object.values(queue).find((e) => e.connId === by.connId);
  if (!entry) return undefined;
  delete queue[entry.playerId];
  return entry;
}

export function ratingWindow(waitedMs: number): number {
  const widened = BASE_RATING_WINDOW + (Math.max(0, waitedMs) / 1000) * WINDOW_WIDEN_PER_SECOND;
  return Math.min(MAX_RATING_WINDOW, widened);
}

export function compatible(a: QueueEntry, b: QueueEntry, now: number): boolean {
  const window = Math.min(ratingWindow(now - a.queuedAt), ratingWindow(now - b.queuedAt));
  return Math.abs(a.rating - b.rating) <= window;
}

function byAge(entries: readonly QueueEntry[]): QueueEntry[] {
  return [...entries].sort((a, b) => a.queuedAt - b.queuedAt || (a.playerId < b.playerId ? -1 : 1));
}

/** `anchor` and the oldest others compatible with everyone picked so far, up to `size`. */
export function groupAround(
  anchor: QueueEntry,
  entries: readonly QueueEntry[],
  now: number,
  size = MATCH_SIZE,
): QueueEntry[] {
  const group = [anchor];
  for (const e of byAge(entries)) {
    if (group.length >= size) break;
    if (e.playerId === anchor.playerId) continue;
    if (group.every((g) => compatible(g, e, now))) group.push(e);
  }
  return group;
}

/** A full group of mutually compatible players, the oldest entry's first; undefined if none. */
export function findFullGroup(
  entries: readonly QueueEntry[],
  now: number,
  size = MATCH_SIZE,
): QueueEntry[] | undefined {
  for (const anchor of byAge(entries)) {
    const group = groupAround(anchor, entries, now, size);
    if (group.length === size) return group;
  }
  return undefined;
}

/** The group for `anchor` once it has waited long enough, and the bots that complete it. */
export function fillGroup(
  anchor: QueueEntry,
  entries: readonly QueueEntry[],
  now: number,
  size = MATCH_SIZE,
): { humans: QueueEntry[]; bots: BotSeat[] } {
  const humans = groupAround(anchor, entries, now, size);
  const bots = Array.from({ length: size - humans.length }, (_, i) => ({
    playerId: `bot-${i + 1}`,
    name: BOT_NAMES[i % BOT_NAMES.length]!,
    rating: BOT_RATING,
  }));
  return { humans, bots };
}

const BOT_NAMES = [
  "Bot Ada",
  "Bot Boole",
  "Bot Cray",
  "Bot Dijkstra",
  "Bot Euler",
  "Bot Fermat",
  "Bot Gauss",
  "Bot Hopper",
];
