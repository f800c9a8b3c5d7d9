/**
 * `chatRoom`, keyed `[orgId, roomId]`: one live room.
 *
 * State holds what a person opening the room needs at once (the newest messages, members, the
 * send-later queue) and the SQL outbox (see `src/db/outbox.ts`): a message is acknowledged once
 * it is in state, and reaches Postgres in the background. Older messages leave state through a
 * recurring retention alarm and are read back from SQL by `history`.
 *
 * Presence and typing are ephemeral and live in `vars`, outside state: presence counts each
 * user's open connections (a user with two tabs joins once and leaves with the last tab), and
 * typing indicators are timers.
 * Typing uses plain timers rather than `c.schedule`: a keystroke indicator must not cost a
 * durable write, and after a restart nobody is typing anyway.
 *
 * The room list renames it (`applyRename`) and deletes it (`closeForDeletion`: `roomDeleted` to
 * whoever has it open, then `c.destroy()`); members leave by themselves (`leave`). Each post is
 * reported to its author's `chatReader`, so that one's own messages never count as unread.
 *
 * Identity comes only from the connection state set by `createConnState` from a verified token.
 * Actions without a user (alarms, sibling actors with the in-process key) are the internal ones.
 */
import { randomUUID } from "node:crypto";
import { desc, and as sqlAnd, eq as sqlEq, lt as sqlLt } from "drizzle-orm";
import type { ActionContext, ActorContext, ActorDefinition, Registry } from "troupe";
import { actor, UserError } from "troupe";
import {
  clearAllTokenExpiries,
  type TokenTimers,
  type User,
  unwatchConnection,
  watchConnection,
} from "troupe/accounts";
import { enqueue, OutboxFlusher } from "troupe/outbox";
import { z } from "zod";
import {
  type ChatOutboxEntry,
  type ChatOutboxState,
  type MessageSnapshot,
  writeBatch,
} from "../db/outbox.js";
import { messages as messagesTable } from "../db/schema.js";
import type { RoomActivity } from "./chat-room-list.js";
import {
  assertInternal,
  type ChatConnParams,
  type ChatConnState,
  type ChatServices,
  connStateOf,
  forbidden,
  RECENT_MESSAGES_IN_STATE,
  RETENTION_INTERVAL_MS,
  TYPING_TTL_MS,
  userOf,
} from "./services.js";
import { parse, withoutNul } from "./validation.js";

/** Longest message, in characters. */
export const MAX_MESSAGE_LENGTH = 4000;
/** Furthest ahead a message can be scheduled. */
export const MAX_SCHEDULE_AHEAD_MS = 30 * 24 * 60 * 60 * 1000;
/** Most scheduled messages one user can have pending in one room. */
export const MAX_SCHEDULED_PER_USER = 50;
/**
 * Most scheduled messages pending in one room, whoever wrote them: a fresh sign-in is a fresh
 * user, so a per-user limit alone does not bound the room's state (40 users x 50 x 4 KB made
 * every write of the room's state, so every `send`, 10x slower).
 */
export const MAX_SCHEDULED_PER_ROOM = 100;
/** Most members one room keeps (each is in its state, and in every `getRoom` answer). */
export const MAX_MEMBERS_PER_ROOM = 1000;
/** Largest page of `history`. */
export const MAX_HISTORY_PAGE = 100;
/**
 * How many recent client message ids a room remembers, to answer a retried `send` with the
 * message it already posted instead of posting it twice.
 */
export const SENT_CLIENT_IDS_KEPT = 500;
/** Room activity is reported to the room list at most this often. */
const LIST_NOTIFY_INTERVAL_MS = 250;

/** What the room list gives a new room; its organisation and id are its key. */
export interface RoomInput {
  name: string;
  createdBy: string;
  /** The creator's display name: the creator is the room's first member. */
  createdByName: string;
}

export interface Member {
  userId: string;
  name: string;
  joinedAt: number;
}

export interface ScheduledMessage {
  id: string;
  alarmId: string;
  authorId: string;
  authorName: string;
  text: string;
  at: number;
}

export type Message = MessageSnapshot;

export interface RoomState extends ChatOutboxState {
  orgId: string;
  roomId: string;
  name: string;
  createdBy: string;
  createdAt: number;
  nextSeq: number;
  /** The newest messages (deleted ones as tombstones), oldest first. */
  messages: Message[];
  members: Record<string, Member>;
  scheduled: Record<string, ScheduledMessage>;
  /**
   * The client message ids of recent sends, oldest first (at most SENT_CLIENT_IDS_KEPT): a send
   * retried with the same id (after a lost reply or a page reload) gets the message it posted.
   * Missing in rooms created before it existed.
   */
  sentClientIds?: SentClientId[];
}

export interface SentClientId {
  userId: string;
  clientId: string;
  messageId: string;
}

export interface RoomVars {
  typing: Map<string, ReturnType<typeof setTimeout>>;
  /** Who is online: user id -> their connection ids (one per tab). */
  presence: Map<string, Set<string>>;
  /** Last version queued for messages outside the recent window, by id. */
  olderVersions: Map<string, number>;
  flusher: OutboxFlusher<ChatOutboxEntry> | undefined;
  notifyTimer: ReturnType<typeof setTimeout> | undefined;
  /** Closes each user connection when its token expires, by connection id. */
  tokenTimers: TokenTimers;
}

const messageText = withoutNul(
  z
    .string()
    .trim()
    .min(1, "A message cannot be empty.")
    .max(MAX_MESSAGE_LENGTH, `A message is at most ${MAX_MESSAGE_LENGTH} characters.`),
  "A message",
);
const messageId = withoutNul(z.string().min(1).max(100), "An id");
const clientMessageId = withoutNul(z.string().min(8).max(100), "A client message id").optional();
const historyQuery = z
  .object({
    before: z.number().int().positive().optional(),
    limit: z.number().int().min(1).max(MAX_HISTORY_PAGE).default(50),
  })
  .default({ limit: 50 });
const roomInput = z.object({
  // Not taken from the input (the key says them); refused if the input says otherwise.
  orgId: z.string().optional(),
  roomId: z.string().optional(),
  name: withoutNul(z.string().min(1), "A room name"),
  createdBy: z.string().min(1),
  createdByName: z.string().min(1),
});

/** The room list and the readers as the room sees them (only what it calls): acyclic types. */
type RoomListView = Registry<{
  chatRoomList: ActorDefinition<
    any,
    ChatConnParams,
    any,
    any,
    any,
    { roomActivity: (c: any, update: RoomActivity) => void }
  >;
  chatReader: ActorDefinition<
    any,
    ChatConnParams,
    any,
    any,
    any,
    {
      ownPosted: (c: any, roomId: string, seq: number) => unknown;
      setLeft: (c: any, roomId: string, left: boolean) => unknown;
    }
  >;
}>;

export function createChatRoom(services: ChatServices, internalKey: string) {
  const recentLimit = services.recentMessagesInState ?? RECENT_MESSAGES_IN_STATE;
  const retentionMs = services.retentionIntervalMs ?? RETENTION_INTERVAL_MS;
  const typingTtl = services.typingTtlMs ?? TYPING_TTL_MS;
  const maxMembers = services.maxMembersPerRoom ?? MAX_MEMBERS_PER_ROOM;
  const maxScheduled = services.maxScheduledPerRoom ?? MAX_SCHEDULED_PER_ROOM;

  const chatRoom = actor({
    /**
     * Only the room list creates rooms: it calls `create` in-process without params, which the
     * runtime trusts and which therefore never reaches this hook. Everyone who does reach it (a
     * client's `getOrCreate` / `create` over HTTP or a connection, with or without input, or an
     * actor passing params) is refused before anything is stored.
     */
    onBeforeCreate: () => {
      throw new UserError("There is no such room.", { code: "room_not_found" });
    },

    createState: (c: { key: readonly string[] }, input: RoomInput | undefined): RoomState => {
      const [orgId, roomId] = c.key;
      const parsed = roomInput.safeParse(input);
      if (!parsed.success || c.key.length !== 2 || !orgId || !roomId) {
        throw new UserError("There is no such room.", { code: "room_not_found" });
      }
      const { orgId: claimedOrg, roomId: claimedRoom, createdByName, ...room } = parsed.data;
      if ((claimedOrg ?? orgId) !== orgId || (claimedRoom ?? roomId) !== roomId) {
        throw forbidden("A room's organisation and id are its key; the input disagrees.");
      }
      const now = Date.now();
      const creator: Member = { userId: room.createdBy, name: createdByName, joinedAt: now };
      const state: RoomState = {
        ...room,
        orgId,
        roomId,
        createdAt: now,
        nextSeq: 1,
        messages: [],
        members: { [creator.userId]: creator },
        scheduled: {},
        outbox: [],
        outboxSeq: 0,
      };
      enqueue(state, {
        kind: "room",
        room: {
          id: state.roomId,
          orgId: state.orgId,
          name: state.name,
          createdBy: state.createdBy,
          createdAt: now,
        },
      });
      enqueue(state, {
        kind: "member",
        member: {
          roomId: state.roomId,
          userId: creator.userId,
          displayName: creator.name,
          joinedAt: creator.joinedAt,
        },
      });
      return state;
    },
    createVars: (): RoomVars => ({
      typing: new Map(),
      presence: new Map(),
      olderVersions: new Map(),
      flusher: undefined,
      notifyTimer: undefined,
      tokenTimers: new Map(),
    }),

    createConnState: (c, params: ChatConnParams | undefined): Promise<ChatConnState> =>
      connStateOf(services, internalKey, params, (user) => {
        const [orgId] = c.key;
        if (user.org !== orgId) throw forbidden("This room belongs to another organisation.");
        assertRoomFor(c.state, user, maxMembers);
      }),

    onWake: async (c) => {
      c.vars.flusher = new OutboxFlusher<ChatOutboxEntry>({
        get state() {
          return c.state;
        },
        write: (batch) => writeBatch(services.db, batch),
        keepAwake: (p) => c.waitUntil(p),
        log: c.log,
      });
      c.vars.flusher.kick(0);
      if (!c.schedule.list().some((a) => a.action === "runRetention")) {
        await c.schedule.after(retentionMs, "runRetention");
      }
    },

    onSleep: (c) => stopAll(c),
    // Deleted by the room list: the last messages still go to SQL if they can (best effort, the
    // room is gone either way; SQL keeps its rows, marked deleted, out of search).
    onDestroy: (c) => stopAll(c),

    onConnect: (c, conn) => {
      if (conn.state.kind !== "user") return;
      watchConnection(c.vars.tokenTimers, services.auth.revocations, conn);
      const user = conn.state.user;
      ensureMember(c, user);
      let tabs = c.vars.presence.get(user.id);
      if (!tabs) c.vars.presence.set(user.id, (tabs = new Set()));
      tabs.add(conn.id);
      if (tabs.size === 1) {
        c.broadcast("presence", { type: "join", userId: user.id, name: user.name });
      }
    },

    onDisconnect: (c, conn) => {
      unwatchConnection(c.vars.tokenTimers, services.auth.revocations, conn);
      if (conn.state.kind !== "user") return;
      const user = conn.state.user;
      const tabs = c.vars.presence.get(user.id);
      if (!tabs?.delete(conn.id)) return;
      if (tabs.size === 0) {
        c.vars.presence.delete(user.id);
        stopTyping(c, user);
        c.broadcast("presence", { type: "leave", userId: user.id, name: user.name });
      }
    },

    actions: {
      /** Everything a client shows when it opens the room. */
      getRoom: (c) => {
        const me = userOf(c.conn);
        return {
          room: {
            id: c.state.roomId,
            orgId: c.state.orgId,
            name: c.state.name,
            createdBy: c.state.createdBy,
            createdAt: c.state.createdAt,
          },
          messages: c.state.messages,
          members: Object.values(c.state.members),
          online: onlineUsers(c.state, c.vars),
          scheduled: scheduledOf(c.state, me.id),
          me,
        };
      },

      /**
       * Posts a message. `clientId` (optional, chosen by the client, unique per message) makes a
       * retry safe: a send whose reply was lost, or that a reloaded page sends again, returns the
       * message already posted under that id instead of posting it twice.
       */
      send: async (c, text: string, clientId?: string) => {
        const user = userOf(c.conn);
        const body = parse(messageText, text, "message");
        const cid = parse(clientMessageId, clientId, "client message id");
        if (cid !== undefined) {
          const sent = c.state.sentClientIds?.find(
            (s) => s.clientId === cid && s.userId === user.id,
          );
          const earlier = sent && (await findMessage(c, sent.messageId));
          if (earlier) return earlier;
        }
        stopTyping(c, user);
        const message = post(c, user, body);
        if (cid !== undefined) {
          // Read back after assigning: state hands out its own copy of what it is given.
          c.state.sentClientIds ??= [];
          const sent = c.state.sentClientIds;
          sent.push({ userId: user.id, clientId: cid, messageId: message.id });
          if (sent.length > SENT_CLIENT_IDS_KEPT)
            sent.splice(0, sent.length - SENT_CLIENT_IDS_KEPT);
        }
        return message;
      },

      edit: async (c, id: string, text: string) => {
        const user = userOf(c.conn);
        const body = parse(messageText, text, "message");
        const message = await ownMessage(c, parse(messageId, id, "message id"), user);
        message.text = body;
        message.editedAt = Date.now();
        message.version += 1;
        changed(c, message);
        c.broadcast("messageEdited", { ...message });
        return { ...message };
      },

      remove: async (c, id: string) => {
        const user = userOf(c.conn);
        const message = await ownMessage(c, parse(messageId, id, "message id"), user);
        message.text = "";
        message.deletedAt = Date.now();
        message.version += 1;
        changed(c, message);
        c.broadcast("messageDeleted", { id: message.id, seq: message.seq });
        return { id: message.id };
      },

      typing: (c) => {
        const user = userOf(c.conn);
        const previous = c.vars.typing.get(user.id);
        if (previous) clearTimeout(previous);
        else c.broadcast("typing", { userId: user.id, name: user.name, typing: true });
        c.vars.typing.set(
          user.id,
          setTimeout(() => stopTyping(c, user), typingTtl),
        );
      },

      sendLater: async (c, text: string, at: number) => {
        const user = userOf(c.conn);
        const body = parse(messageText, text, "message");
        const when = parse(z.number().int().finite(), at, "time");
        const now = Date.now();
        if (when <= now) {
          throw new UserError("Pick a time in the future.", { code: "invalid_input" });
        }
        if (when > now + MAX_SCHEDULE_AHEAD_MS) {
          throw new UserError("A message can be scheduled at most 30 days ahead.", {
            code: "invalid_input",
          });
        }
        if (scheduledOf(c.state, user.id).length >= MAX_SCHEDULED_PER_USER) {
          throw new UserError(`At most ${MAX_SCHEDULED_PER_USER} scheduled messages per room.`, {
            code: "too_many_scheduled",
          });
        }
        if (Object.keys(c.state.scheduled).length >= maxScheduled) {
          throw new UserError(
            `This room already has ${maxScheduled} scheduled messages, its limit. Try again once some are sent.`,
            { code: "too_many_scheduled" },
          );
        }
        const id = randomUUID();
        const alarmId = await c.schedule.at(when, "deliverScheduled", id);
        const entry: ScheduledMessage = {
          id,
          alarmId,
          authorId: user.id,
          authorName: user.name,
          text: body,
          at: when,
        };
        c.state.scheduled[id] = entry;
        return publicScheduled(entry);
      },

      cancelScheduled: (c, id: string) => {
        const user = userOf(c.conn);
        const entry = c.state.scheduled[parse(messageId, id, "scheduled message id")];
        if (!entry) {
          throw new UserError("No such scheduled message (it may have been sent already).", {
            code: "not_found",
          });
        }
        if (entry.authorId !== user.id) {
          throw forbidden("Only its author can cancel a scheduled message.");
        }
        c.schedule.cancel(entry.alarmId);
        delete c.state.scheduled[id];
        return { id };
      },

      listScheduled: (c) => scheduledOf(c.state, userOf(c.conn).id),

      /**
       * Leaves the room: the person is no longer a member (nor counted), gets no unread count
       * for it, and hears `memberLeft` on their other devices. Opening the room again rejoins.
       */
      leave: async (c) => {
        const user = userOf(c.conn);
        const member = c.state.members[user.id];
        if (!member) return { left: false };
        delete c.state.members[user.id];
        enqueue(c.state, {
          kind: "memberLeft",
          member: { roomId: c.state.roomId, userId: user.id, leftAt: Date.now() },
        });
        afterWrite(c);
        stopTyping(c, user);
        c.broadcast("memberLeft", { userId: user.id, name: user.name });
        // The leave stands even if the reader cannot be told (it is logged): at worst the room
        // keeps showing a count until the person reads it or leaves again.
        await readerOf(c, user.id)
          .setLeft(c.state.roomId, true)
          .catch((error: unknown) => c.log.warn("could not mark the room as left", { error }));
        return { left: true };
      },

      /** From the room list (the single writer of names): the room has a new name. */
      applyRename: (c, name: string) => {
        assertInternal(c.conn);
        const newName = parse(
          withoutNul(z.string().min(1).max(60), "A room name"),
          name,
          "room name",
        );
        c.state.name = newName;
        enqueue(c.state, {
          kind: "room",
          room: {
            id: c.state.roomId,
            orgId: c.state.orgId,
            name: newName,
            createdBy: c.state.createdBy,
            createdAt: c.state.createdAt,
          },
        });
        afterWrite(c);
        c.broadcast("roomRenamed", { id: c.state.roomId, name: newName });
        return { name: newName };
      },

      /**
       * From the room list: the room is deleted. Whoever has it open hears `roomDeleted`, then
       * the actor is destroyed (its connections close with "destroyed", its state and alarms go).
       */
      closeForDeletion: (c, by: { userId: string; name: string }) => {
        assertInternal(c.conn);
        c.broadcast("roomDeleted", { id: c.state.roomId, name: c.state.name, by: by.name });
        c.destroy();
        return { deleted: true as const };
      },

      /** Alarm target of `sendLater`. */
      deliverScheduled: (c, id: string) => {
        assertInternal(c.conn);
        const entry = c.state.scheduled[id];
        if (!entry) return null; // cancelled
        delete c.state.scheduled[id];
        return post(
          c,
          { id: entry.authorId, name: entry.authorName, org: c.state.orgId },
          entry.text,
          {
            scheduledId: id,
          },
        );
      },

      /** Recurring alarm: moves messages beyond the newest N out of state (SQL keeps them). */
      runRetention: async (c) => {
        assertInternal(c.conn);
        const moved = trimToRecent(c.state, recentLimit);
        // The alarm running now is still listed until it finishes: look for a future one only.
        const now = Date.now();
        if (!c.schedule.list().some((a) => a.action === "runRetention" && a.at > now)) {
          await c.schedule.after(retentionMs, "runRetention");
        }
        c.vars.flusher?.kick(0);
        return { moved, pendingSql: c.state.outbox.length };
      },

      /** Messages older than `before` (a seq), newest page first, returned oldest first. */
      history: async (c, query?: { before?: number; limit?: number }) => {
        userOf(c.conn);
        const { before, limit } = parse(historyQuery, query, "history query");
        const cursor = before ?? c.state.nextSeq;
        const rows = await services.db
          .select()
          .from(messagesTable)
          .where(
            sqlAnd(sqlEq(messagesTable.roomId, c.state.roomId), sqlLt(messagesTable.seq, cursor)),
          )
          .orderBy(desc(messagesTable.seq))
          .limit(limit + 1);
        const bySeq = new Map<number, Message>();
        for (const r of rows) bySeq.set(r.seq, rowToMessage(r));
        // State wins: it is never behind SQL (SQL may lag behind the outbox).
        for (const m of c.state.messages) if (m.seq < cursor) bySeq.set(m.seq, { ...m });
        const newestFirst = [...bySeq.values()].sort((a, b) => b.seq - a.seq);
        const page = newestFirst.slice(0, limit).reverse();
        return { messages: page, hasMore: newestFirst.length > limit };
      },
    },
    options: { sleepTimeout: 30_000 },
  });

  type Ctx = ActorContext<RoomState, any, ChatConnState, RoomVars, any>;
  type ActionCtx = ActionContext<RoomState, any, ChatConnState, RoomVars, any>;

  function post(
    c: ActionCtx,
    user: User,
    text: string,
    extra: { scheduledId?: string } = {},
  ): Message {
    // A user may post over plain HTTP without ever opening a connection.
    ensureMember(c, user);
    const message: Message = {
      id: randomUUID(),
      orgId: c.state.orgId,
      roomId: c.state.roomId,
      seq: c.state.nextSeq++,
      authorId: user.id,
      authorName: user.name,
      text,
      createdAt: Date.now(),
      editedAt: null,
      deletedAt: null,
      version: 1,
    };
    c.state.messages.push(message);
    enqueue(c.state, { kind: "message", message: { ...message } });
    // Own messages are never unread: the author's reader hears of it (in the background; the
    // reply does not wait for it).
    c.runInBackground(readerOf(c, user.id).ownPosted(c.state.roomId, message.seq));
    // Keep state bounded between retention runs: at most twice the recent window.
    if (c.state.messages.length > recentLimit * 2) trimToRecent(c.state, recentLimit);
    afterWrite(c);
    c.broadcast("message", { ...message, ...extra });
    return { ...message };
  }

  /** After an outbox write: flush soon and tell the room list (throttled). */
  function afterWrite(c: Ctx): void {
    c.vars.flusher?.kick();
    if (c.vars.notifyTimer) return;
    c.vars.notifyTimer = setTimeout(() => {
      c.vars.notifyTimer = undefined;
      const update: RoomActivity = {
        roomId: c.state.roomId,
        name: c.state.name,
        lastActivityAt: c.state.messages.at(-1)?.createdAt ?? c.state.createdAt,
        memberCount: Object.keys(c.state.members).length,
        lastSeq: c.state.nextSeq - 1,
      };
      const list = c
        .client<RoomListView>()
        .chatRoomList.getOrCreate([c.state.orgId], { params: { internal: internalKey } });
      c.runInBackground(list.roomActivity(update));
    }, LIST_NOTIFY_INTERVAL_MS);
  }

  function readerOf(c: Ctx, userId: string) {
    return c
      .client<RoomListView>()
      .chatReader.getOrCreate([c.state.orgId, userId], { params: { internal: internalKey } });
  }

  async function stopAll(c: Ctx): Promise<void> {
    clearAllTokenExpiries(c.vars.tokenTimers);
    for (const timer of c.vars.typing.values()) clearTimeout(timer);
    c.vars.typing.clear();
    if (c.vars.notifyTimer) clearTimeout(c.vars.notifyTimer);
    c.vars.notifyTimer = undefined;
    const flusher = c.vars.flusher;
    if (flusher) {
      // Best effort; whatever is left stays in state and is flushed at the next wake.
      await Promise.race([flusher.flushNow(), new Promise((r) => setTimeout(r, 2000))]);
      flusher.stop();
    }
  }

  /**
   * The caller's own message `id`, to change it: the live state object for a recent message,
   * otherwise a copy of the newest known version of an older one (outbox, then SQL). Older
   * messages are changed in SQL only; `vars.olderVersions` keeps two quick edits of the same
   * older message from reusing a version while the first is still being written.
   */
  async function ownMessage(c: ActionCtx, id: string, user: User): Promise<Message> {
    let message: Message | undefined = c.state.messages.find((m) => m.id === id);
    if (!message) {
      // Versions queued before the read: one may be written and leave the outbox while the read
      // runs, after the read saw the older row (a deleted message then looked editable).
      const queued = queuedVersions(c, id);
      const [row] = await services.db
        .select()
        .from(messagesTable)
        .where(sqlAnd(sqlEq(messagesTable.id, id), sqlEq(messagesTable.roomId, c.state.roomId)))
        .limit(1);
      if (row) message = rowToMessage(row);
      // From here on no await: nothing can interleave before the new version is queued.
      for (const m of [...queued, ...queuedVersions(c, id)]) {
        if (!message || m.version > message.version) message = { ...m };
      }
      if (message) {
        message = { ...message };
        message.version = Math.max(message.version, c.vars.olderVersions.get(id) ?? 0);
      }
    }
    if (!message || message.deletedAt !== null) {
      throw new UserError("No such message in this room.", { code: "not_found" });
    }
    if (message.authorId !== user.id) {
      throw forbidden("Only its author can change a message.");
    }
    return message;
  }

  /** The newest version of message `id` of this room (state, outbox, then SQL), or undefined. */
  async function findMessage(c: ActionCtx, id: string): Promise<Message | undefined> {
    const recent = c.state.messages.find((m) => m.id === id);
    if (recent) return { ...recent };
    const queued = queuedVersions(c, id).at(-1);
    if (queued) return queued;
    const [row] = await services.db
      .select()
      .from(messagesTable)
      .where(sqlAnd(sqlEq(messagesTable.id, id), sqlEq(messagesTable.roomId, c.state.roomId)))
      .limit(1);
    return row ? rowToMessage(row) : undefined;
  }

  /** Copies of the versions of message `id` waiting in the outbox. */
  function queuedVersions(c: ActionCtx, id: string): Message[] {
    const out: Message[] = [];
    for (const e of c.state.outbox) {
      if (e.kind === "message" && e.message.id === id) out.push({ ...e.message });
    }
    return out;
  }

  /** Queues the new version of a changed message for SQL. */
  function changed(c: ActionCtx, message: Message): void {
    if (!c.state.messages.some((m) => m.id === message.id)) {
      c.vars.olderVersions.set(message.id, message.version);
    }
    enqueue(c.state, { kind: "message", message: { ...message } });
    afterWrite(c);
  }

  /** Records a first-time member (state, SQL outbox, event). */
  function ensureMember(c: Ctx, user: User): void {
    if (c.state.members[user.id]) return;
    const member: Member = { userId: user.id, name: user.name, joinedAt: Date.now() };
    c.state.members[user.id] = member;
    enqueue(c.state, {
      kind: "member",
      member: {
        roomId: c.state.roomId,
        userId: user.id,
        displayName: user.name,
        joinedAt: member.joinedAt,
      },
    });
    afterWrite(c);
    c.broadcast("memberJoined", { ...member });
    // Back after leaving (or here for the first time): the room counts as unread again.
    c.runInBackground(readerOf(c, user.id).setLeft(c.state.roomId, false));
  }

  function stopTyping(c: Ctx, user: User): void {
    const timer = c.vars.typing.get(user.id);
    if (!timer) return;
    clearTimeout(timer);
    c.vars.typing.delete(user.id);
    c.broadcast("typing", { userId: user.id, name: user.name, typing: false });
  }

  return chatRoom;
}

/** A new member needs a free place in the room (members are kept in its state). */
function assertRoomFor(state: RoomState, user: User, maxMembers: number): void {
  if (state.members[user.id]) return;
  if (Object.keys(state.members).length >= maxMembers) {
    throw new UserError(
      `This room has reached its limit of ${maxMembers} members. Ask for a new room.`,
      { code: "room_full" },
    );
  }
}

/** Drops messages beyond the newest `keep`, except those whose SQL write is still pending. */
function trimToRecent(state: RoomState, keep: number): number {
  const excess = state.messages.length - keep;
  if (excess <= 0) return 0;
  const pending = new Set<string>();
  for (const e of state.outbox) if (e.kind === "message") pending.add(e.message.id);
  let cut = 0;
  while (cut < excess && !pending.has(state.messages[cut]!.id)) cut++;
  if (cut > 0) state.messages.splice(0, cut);
  return cut;
}

function rowToMessage(r: typeof messagesTable.$inferSelect): Message {
  return {
    id: r.id,
    orgId: r.orgId,
    roomId: r.roomId,
    seq: r.seq,
    authorId: r.authorId,
    authorName: r.authorName,
    text: r.deletedAt ? "" : r.text,
    createdAt: r.createdAt.getTime(),
    editedAt: r.editedAt?.getTime() ?? null,
    deletedAt: r.deletedAt?.getTime() ?? null,
    version: r.version,
  };
}

function onlineUsers(state: RoomState, vars: RoomVars): { userId: string; name: string }[] {
  return [...vars.presence.keys()].map((userId) => ({
    userId,
    name: state.members[userId]?.name ?? "",
  }));
}

function publicScheduled(s: ScheduledMessage) {
  return { id: s.id, text: s.text, at: s.at, authorId: s.authorId };
}

function scheduledOf(state: RoomState, userId: string) {
  return Object.values(state.scheduled)
    .filter((s) => s.authorId === userId)
    .sort((a, b) => a.at - b.at)
    .map(publicScheduled);
}
