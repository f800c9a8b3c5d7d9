/**
 * Messages written but not yet acknowledged by the room, kept per tab in `sessionStorage` so that
 * a page reload (a dev server restart reloads the page; so can the person) loses none of them.
 *
 * Each message has a client id, chosen here and sent with it (`send(text, clientId)`): the room
 * answers a second send with the same id with the message it already posted, so resending after
 * a reload or a lost reply can never post twice.
 *
 * After a reload, messages that were still on their way and are younger than AUTO_RESEND_MS are
 * sent again by themselves; older ones, and those that had already failed, are shown "Not sent"
 * with their text and Retry / Discard.
 */

export type PendingStatus = "sending" | "failed";

export interface PendingMessage {
  clientId: string;
  text: string;
  createdAt: number;
  status: PendingStatus;
  /** Why it is not sent (for `failed`), in words. */
  error?: string;
}

/**
 * How long a send waits for the connection before it fails: every connection of the page is
 * opened with it as its `queueTimeout` (lib/chat.ts), and the banner and the "Not sent" note say
 * it.
 */
export const SEND_WAIT_SECONDS = 15;

/** A message restored after a reload is resent by itself only if it is younger than this. */
export const AUTO_RESEND_MS = 2 * 60_000;

/** Most pending messages kept per room (a safety bound for storage, far above real use). */
const MAX_PENDING = 200;

type StorageLike = Pick<Storage, "getItem" | "setItem" | "removeItem">;

/** The storage key of one room's queue, for one person (another sign-in in the tab has its own). */
export function pendingKey(org: string, roomId: string, userId: string): string {
  return `troupe-chat:pending:${JSON.stringify([org, roomId, userId])}`;
}

/** A random client message id (also where `crypto.randomUUID` is missing: plain-http LAN hosts). */
export function newClientId(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return `c-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The queue saved under `key`, as it was saved (unreadable or malformed entries dropped). */
export function loadPending(storage: StorageLike | undefined, key: string): PendingMessage[] {
  let raw: string | null = null;
  try {
    raw = storage?.getItem(key) ?? null;
  } catch {
    return [];
  }
  if (!raw) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(isPending);
  } catch {
    return [];
  }
}

/** Saves the queue (removes the key when it is empty). Storage errors are ignored: best effort. */
export function savePending(
  storage: StorageLike | undefined,
  key: string,
  pending: readonly PendingMessage[],
): void {
  try {
    if (pending.length === 0) storage?.removeItem(key);
    else storage?.setItem(key, JSON.stringify(pending.slice(-MAX_PENDING)));
  } catch {
    // Full or unavailable storage: the queue still lives in memory.
  }
}

/**
 * The queue as a reloaded page takes it over: young messages that were on their way are sent
 * again; the rest wait, marked "Not sent", for Retry or Discard.
 */
export function restorePending(
  saved: readonly PendingMessage[],
  now = Date.now(),
): PendingMessage[] {
  return saved.map((p) =>
    p.status === "sending" && now - p.createdAt > AUTO_RESEND_MS
      ? { ...p, status: "failed", error: "Not sent before the page was reloaded." }
      : p,
  );
}

/** Connection problems: the message may be sent again as is (its client id makes it safe). */
const CONNECTION_CODES = new Set([
  "connection_unavailable",
  "connection_lost",
  "network_error",
  "actor_stopping",
  "internal_error",
  "storage_error",
]);

/**
 * What a failed send means for its message: `resend` (the connection dropped with the call on the
 * wire: it may or may not have run, and sending it again is safe), `failed` (no connection in
 * time: kept, marked "Not sent"), or `refused` (the room said no, e.g. too long: trying again
 * cannot help).
 */
export function sendFailureKind(code: string | undefined): "resend" | "failed" | "refused" {
  if (code === "connection_lost") return "resend";
  if (code === undefined || CONNECTION_CODES.has(code)) return "failed";
  return "refused";
}

function isPending(v: unknown): v is PendingMessage {
  if (!v || typeof v !== "object") return false;
  const p = v as Record<string, unknown>;
  return (
    typeof p.clientId === "string" &&
    typeof p.text === "string" &&
    typeof p.createdAt === "number" &&
    (p.status === "sending" || p.status === "failed") &&
    (p.error === undefined || typeof p.error === "string")
  );
}
