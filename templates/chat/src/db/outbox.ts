/**
 * The chat's outbox entries and how they are written to SQL. The queue itself (entries kept in
 * actor state, flushed in the background in batches, retried with backoff, an entry the
 * database keeps refusing set aside so that it never stops the others) is the runtime's
 * `troupe/outbox`; this file holds only what is the chat's: what an entry is, and `writeBatch`.
 *
 * A room appends an entry (`enqueue`) in the same state change as what it records (a message
 * sent, edited or deleted, a member joining, the room created), so an acknowledged message is
 * durably queued for SQL even if Postgres is down at that moment. `writeBatch` writes a batch in
 * one transaction of idempotent upserts (by message id / room id / (room, user)): a crash between
 * commit and removal replays the batch, which the upserts absorb, and the `version` guard keeps a
 * replayed older snapshot from overwriting a newer edit. That also makes the entries independent
 * of their order, which the outbox needs when it writes around an entry it holds back.
 */
import { and, eq, sql } from "drizzle-orm";
import { type OutboxState, type Queued, storableRow } from "troupe/outbox";
import { type Db, inTransaction } from "./index.js";
import { members, messages, rooms } from "./schema.js";

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

/** What a room queues for SQL. */
export type ChatOutboxEntry =
  | { kind: "message"; message: MessageSnapshot }
  | {
      kind: "room";
      room: { id: string; orgId: string; name: string; createdBy: string; createdAt: number };
    }
  | {
      kind: "member";
      member: { roomId: string; userId: string; displayName: string; joinedAt: number };
    }
  /** A member left the room: their row goes (a later `member` entry brings it back). */
  | { kind: "memberLeft"; member: { roomId: string; userId: string; leftAt: number } }
  /**
   * The room was deleted (queued by the room list, since the room's own state is gone with it).
   * It carries the whole row so that it lands even if the room's own insert never did.
   */
  | {
      kind: "roomDeleted";
      room: { id: string; orgId: string; name: string; createdBy: string; createdAt: number };
      deletedAt: number;
    };

/** An entry in the queue (with its sequence number). */
export type OutboxEntry = Queued<ChatOutboxEntry>;
export type ChatOutboxState = OutboxState<ChatOutboxEntry>;

/** Writes a batch in one transaction. Idempotent: safe to replay. */
export async function writeBatch(db: Db, batch: readonly OutboxEntry[]): Promise<void> {
  // The latest snapshot of each message wins within a batch (entries are in order).
  const latestMessages = new Map<string, MessageSnapshot>();
  const roomRows = new Map<string, Extract<OutboxEntry, { kind: "room" }>["room"]>();
  const deletedRooms = new Map<string, Extract<OutboxEntry, { kind: "roomDeleted" }>>();
  // The latest of joined / left wins for each (room, user).
  const memberChanges = new Map<string, Extract<OutboxEntry, { kind: "member" | "memberLeft" }>>();
  for (const e of batch) {
    if (e.kind === "message") latestMessages.set(e.message.id, e.message);
    else if (e.kind === "room") roomRows.set(e.room.id, e.room);
    else if (e.kind === "roomDeleted") deletedRooms.set(e.room.id, e);
    else memberChanges.set(JSON.stringify([e.member.roomId, e.member.userId]), e);
  }
  const memberRows: Extract<OutboxEntry, { kind: "member" }>["member"][] = [];
  const leftMembers: Extract<OutboxEntry, { kind: "memberLeft" }>["member"][] = [];
  for (const e of memberChanges.values()) {
    if (e.kind === "member") memberRows.push(e.member);
    else leftMembers.push(e.member);
  }
  await inTransaction(db, async (tx) => {
    if (roomRows.size > 0) {
      await tx
        .insert(rooms)
        .values(
          [...roomRows.values()].map((r) => ({
            ...storableRow(r),
            createdAt: new Date(r.createdAt),
          })),
        )
        .onConflictDoUpdate({ target: rooms.id, set: { name: sql`excluded.name` } });
    }
    if (deletedRooms.size > 0) {
      // An upsert that only ever sets deleted_at: whatever the room's own outbox writes after
      // it (its name) leaves the flag alone.
      await tx
        .insert(rooms)
        .values(
          [...deletedRooms.values()].map((e) => ({
            ...storableRow(e.room),
            createdAt: new Date(e.room.createdAt),
            deletedAt: new Date(e.deletedAt),
          })),
        )
        .onConflictDoUpdate({
          target: rooms.id,
          set: { deletedAt: sql`coalesce(${rooms.deletedAt}, excluded.deleted_at)` },
        });
    }
    for (const m of leftMembers) {
      await tx
        .delete(members)
        .where(and(eq(members.roomId, m.roomId), eq(members.userId, m.userId)));
    }
    if (memberRows.length > 0) {
      await tx
        .insert(members)
        .values(memberRows.map((m) => ({ ...storableRow(m), joinedAt: new Date(m.joinedAt) })))
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
            ...storableRow(m),
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
