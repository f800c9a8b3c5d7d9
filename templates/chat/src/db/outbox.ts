/**
 * The outbox: pending SQL writes kept IN ACTOR STATE.
 *
 * An action that changes something the database must know (a message sent, edited or deleted,
 * a member joining, a room created) appends an entry to `state.outbox` in the same state change
 * as the change itself. The runtime writes state before it replies, so an acknowledged message
 * is durably queued for SQL even if Postgres is down at that moment; the reply does not wait for
 * Postgres at all.
 *
 * `OutboxFlusher` drains the queue in the background: batches of up to `OUTBOX_BATCH` entries in
 * one transaction of idempotent upserts (by message id / room id / (room, user)), and removes the
 * entries only after the transaction committed. On failure it retries with exponential backoff.
 * A crash between commit and removal replays the batch, which the upserts absorb; the
 * `version` guard keeps a replayed older snapshot from overwriting a newer edit.
 */
import { sql } from "drizzle-orm";
import { type Db, inTransaction } from "./index.js";
import { members, messages, rooms } from "./schema.js";

/** Largest number of outbox entries written in one transaction. */
export const OUTBOX_BATCH = 200;
/** Delay before the first flush after a write: lets a burst of messages share one transaction. */
export const OUTBOX_FLUSH_DELAY_MS = 20;
/** Backoff after a failed flush: doubles from the first value up to the second. */
export const OUTBOX_RETRY_MIN_MS = 100;
export const OUTBOX_RETRY_MAX_MS = 5000;

export interface MessageSnapshot {
  id: string;
  orgId: string;
  roomId: string;
  seq: number;
  authorId: string;
  authorName: string;
  text: string;
  createdAt: number;
  editedAt: number | null;
  deletedAt: number | null;
  version: number;
}

export type OutboxEntry =
  | { n: number; kind: "message"; message: MessageSnapshot }
  | {
      n: number;
      kind: "room";
      room: { id: string; orgId: string; name: string; createdBy: string; createdAt: number };
    }
  | {
      n: number;
      kind: "member";
      member: { roomId: string; userId: string; displayName: string; joinedAt: number };
    };

export type OutboxEntryInput =
  | Omit<Extract<OutboxEntry, { kind: "message" }>, "n">
  | Omit<Extract<OutboxEntry, { kind: "room" }>, "n">
  | Omit<Extract<OutboxEntry, { kind: "member" }>, "n">;

export interface OutboxState {
  outbox: OutboxEntry[];
  outboxSeq: number;
}

export function enqueue(state: OutboxState, entry: OutboxEntryInput): void {
  state.outboxSeq += 1;
  state.outbox.push({ ...entry, n: state.outboxSeq } as OutboxEntry);
}

/** Writes a batch in one transaction. Idempotent: safe to replay. */
export async function writeBatch(db: Db, batch: readonly OutboxEntry[]): Promise<void> {
  // The latest snapshot of each message wins within a batch (entries are in order).
  const latestMessages = new Map<string, MessageSnapshot>();
  const roomRows = new Map<string, Extract<OutboxEntry, { kind: "room" }>["room"]>();
  const memberRows = new Map<string, Extract<OutboxEntry, { kind: "member" }>["member"]>();
  for (const e of batch) {
    if (e.kind === "message") latestMessages.set(e.message.id, e.message);
    else if (e.kind === "room") roomRows.set(e.room.id, e.room);
    else memberRows.set(JSON.stringify([e.member.roomId, e.member.userId]), e.member);
  }
  await inTransaction(db, async (tx) => {
    if (roomRows.size > 0) {
      await tx
        .insert(rooms)
        .values([...roomRows.values()].map((r) => ({ ...r, createdAt: new Date(r.createdAt) })))
        .onConflictDoUpdate({ target: rooms.id, set: { name: sql`excluded.name` } });
    }
    if (memberRows.size > 0) {
      await tx
        .insert(members)
        .values([...memberRows.values()].map((m) => ({ ...m, joinedAt: new Date(m.joinedAt) })))
        .onConflictDoUpdate({
          target: [members.roomId, members.userId],
          set: { displayName: sql`excluded.display_name` },
        });
    }
    if (latestMessages.size > 0) {
      await tx
        .insert(messages)
        .values(
          [...latestMessages.values()].map((m) => ({
            ...m,
            createdAt: new Date(m.createdAt),
            editedAt: m.editedAt === null ? null : new Date(m.editedAt),
            deletedAt: m.deletedAt === null ? null : new Date(m.deletedAt),
          })),
        )
        .onConflictDoUpdate({
          target: messages.id,
          set: {
            text: sql`excluded.text`,
            editedAt: sql`excluded.edited_at`,
            deletedAt: sql`excluded.deleted_at`,
            version: sql`excluded.version`,
          },
          setWhere: sql`${messages.version} < excluded.version`,
        });
    }
  });
}

export interface FlusherHost {
  /** The pending entries (the live state array). */
  state: OutboxState;
  db: Db;
  /** Keeps the actor awake while a flush runs. */
  keepAwake(p: Promise<unknown>): void;
  log(msg: string): void;
  /** Called after a batch committed, with its entries. */
  onCommitted?(batch: readonly OutboxEntry[]): void;
}

/** Drains an actor's outbox. One per actor instance, kept in vars (it holds timers). */
export class OutboxFlusher {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;
  private stopped = false;

  constructor(private readonly host: FlusherHost) {}

  /** Asks for a flush soon (no-op if one is already planned or running). */
  kick(delayMs = OUTBOX_FLUSH_DELAY_MS): void {
    if (this.stopped || this.timer || this.running) return;
    if (this.host.state.outbox.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.drain().finally(() => {
        this.running = undefined;
      });
      this.host.keepAwake(this.running);
    }, delayMs);
  }

  /** Flushes what it can now (used when the actor goes to sleep); never throws. */
  async flushNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    if (this.host.state.outbox.length > 0) await this.drain().catch(() => {});
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get pending(): number {
    return this.host.state.outbox.length;
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.host.state.outbox.length > 0) {
      let batch: OutboxEntry[] = [];
      try {
        // A plain copy: the entries are live state (tracked proxies, which structuredClone
        // refuses), and the write must not see changes made while it runs.
        batch = JSON.parse(JSON.stringify(this.host.state.outbox.slice(0, OUTBOX_BATCH)));
        await writeBatch(this.host.db, batch);
      } catch (err) {
        this.failures += 1;
        const wait = Math.min(OUTBOX_RETRY_MAX_MS, OUTBOX_RETRY_MIN_MS * 2 ** (this.failures - 1));
        if (this.failures === 1 || this.failures % 10 === 0) {
          this.host.log(
            `[chat/outbox] SQL write failed (${this.failures}x, ${this.host.state.outbox.length} pending), retrying in ${wait} ms: ${(err as Error).message}`,
          );
        }
        this.running = undefined;
        this.kick(wait);
        return;
      }
      if (this.failures > 0) {
        this.host.log(`[chat/outbox] SQL writes resumed after ${this.failures} failures`);
      }
      this.failures = 0;
      // Only now, after the commit: drop the written entries (new ones may have been appended).
      const last = batch[batch.length - 1]!.n;
      const outbox = this.host.state.outbox;
      let k = 0;
      while (k < outbox.length && outbox[k]!.n <= last) k++;
      outbox.splice(0, k);
      this.host.onCommitted?.(batch);
    }
  }
}
