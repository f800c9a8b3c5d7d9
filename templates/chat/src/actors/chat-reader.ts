/**
 * `chatReader`, keyed `[orgId, userId]`: one person's read positions, for unread counts.
 *
 * Why an actor per person, and not the room list or SQL: a read position is written by one
 * person (from any of their devices) and read by that person only, so it has a natural single
 * writer; every device of the person keeps a connection to it and hears `readsChanged` at once
 * (read on the phone, cleared on the laptop). Its state is bounded by the organisation's rooms
 * (`MAX_READ_ENTRIES`), where the room list's state would grow with rooms x people, and unlike
 * SQL it keeps working, durably, while the database is away.
 *
 * The count itself is worked out by the client (`src/frontend/lib/unread.ts`): `lastSeq` of the room (from the room list,
 * live) minus `readSeq`, minus the person's own messages after `readSeq` (`ownSeqs`, which the
 * room reports here as they are posted). So a new message costs one update of the room list,
 * never one per member, and one's own messages never count as unread.
 *
 * @example
 * const reader = client.chatReader.getOrCreate([org, userId], { params: { token } }).connect();
 * reader.on("readsChanged", ({ roomId, read }) => ...);
 * await reader.markRead(roomId, lastSeq);
 */
import { actor } from "troupe";
import {
  clearAllTokenExpiries,
  type TokenTimers,
  type User,
  unwatchConnection,
  watchConnection,
} from "troupe/accounts";
import { z } from "zod";
import {
  assertInternal,
  type ChatConnParams,
  type ChatConnState,
  type ChatServices,
  connStateOf,
  forbidden,
  userOf,
} from "./services.js";
import { parse, withoutNul } from "./validation.js";

/**
 * Most rooms one person keeps a read position for: the organisation's room limit, twice (room
 * ids of deleted rooms linger until pushed out; the least recently changed go first).
 */
export const MAX_READ_ENTRIES = 1000;
/**
 * Own messages remembered per room beyond the read position. The interface shows "99+" from
 * 100 unread on, so more would change no number a person sees.
 */
export const MAX_OWN_SEQS = 100;

export interface RoomRead {
  /** Every message up to this seq has been read. */
  readSeq: number;
  /** Seqs after `readSeq` of the person's own messages (they are not unread). */
  ownSeqs: number[];
  /** The person left the room: no unread count for it until they come back. */
  left: boolean;
  /** Last change (ms), for pushing out the oldest entry. */
  at: number;
}

export interface ReaderState {
  rooms: Record<string, RoomRead>;
}

const roomIdArg = withoutNul(z.string().min(1).max(100), "A room id");
const seqArg = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export function createChatReader(services: ChatServices, internalKey: string) {
  return actor({
    state: { rooms: {} } as ReaderState,
    createVars: (): { tokenTimers: TokenTimers } => ({ tokenTimers: new Map() }),

    /** Created by the person it belongs to, or by a room of their organisation (in-process). */
    onBeforeCreate: async (_c, { key, params }) => {
      const p = params as ChatConnParams | undefined;
      if (p?.internal !== undefined) {
        if (p.internal !== internalKey) throw forbidden("Not an internal caller.");
        return;
      }
      assertOwnReader(key, await services.auth.verify(p?.token));
    },

    createConnState: (c, params: ChatConnParams | undefined): Promise<ChatConnState> =>
      connStateOf(services, internalKey, params, (user) => assertOwnReader(c.key, user)),

    onConnect: (c, conn) => {
      watchConnection(c.vars.tokenTimers, services.auth.revocations, conn);
    },
    onDisconnect: (c, conn) => {
      unwatchConnection(c.vars.tokenTimers, services.auth.revocations, conn);
    },
    onSleep: (c) => clearAllTokenExpiries(c.vars.tokenTimers),

    actions: {
      /** Read positions by room id. */
      getReads: (c) => {
        userOf(c.conn);
        const out: Record<string, RoomRead> = {};
        for (const [id, read] of Object.entries(c.state.rooms)) out[id] = copyOf(read);
        return out;
      },

      /**
       * Everything up to `seq` in `roomId` is read (never moves back: another device may have
       * read further). Any seq is accepted; a person can only misplace their own counts.
       */
      markRead: (c, roomId: string, seq: number) => {
        userOf(c.conn);
        const id = parse(roomIdArg, roomId, "room id");
        const upTo = parse(seqArg, seq, "seq");
        const read = entry(c.state, id);
        if (upTo <= read.readSeq) return copyOf(read);
        read.readSeq = upTo;
        settle(read);
        return changed(c, id, read);
      },

      /** From a room: the person posted message `seq` there. */
      ownPosted: (c, roomId: string, seq: number) => {
        assertInternal(c.conn);
        const read = entry(c.state, roomId);
        if (seq <= read.readSeq || read.ownSeqs.includes(seq)) return copyOf(read);
        read.ownSeqs.push(seq);
        read.ownSeqs.sort((a, b) => a - b);
        if (read.ownSeqs.length > MAX_OWN_SEQS)
          read.ownSeqs.splice(0, read.ownSeqs.length - MAX_OWN_SEQS);
        settle(read);
        return changed(c, roomId, read);
      },

      /** From a room: the person left it, or came back. */
      setLeft: (c, roomId: string, left: boolean) => {
        assertInternal(c.conn);
        const read = entry(c.state, roomId);
        if (read.left === left) return copyOf(read);
        read.left = left;
        return changed(c, roomId, read);
      },
    },
  });
}

type ReaderCtx = {
  state: ReaderState;
  broadcast: (name: string, ...args: unknown[]) => void;
};

function entry(state: ReaderState, roomId: string): RoomRead {
  let read = state.rooms[roomId];
  if (!read) {
    const ids = Object.keys(state.rooms);
    if (ids.length >= MAX_READ_ENTRIES) {
      const oldest = ids.reduce((a, b) => (state.rooms[a]!.at <= state.rooms[b]!.at ? a : b));
      delete state.rooms[oldest];
    }
    state.rooms[roomId] = { readSeq: 0, ownSeqs: [], left: false, at: Date.now() };
    read = state.rooms[roomId]!;
  }
  return read;
}

/**
 * Drops own seqs at or below the read position, and moves the read position over own messages
 * that directly follow it: posting when nothing else is unread leaves nothing unread.
 */
function settle(read: RoomRead): void {
  read.ownSeqs = read.ownSeqs.filter((s) => s > read.readSeq);
  while (read.ownSeqs[0] === read.readSeq + 1) {
    read.readSeq += 1;
    read.ownSeqs.shift();
  }
}

function changed(c: ReaderCtx, roomId: string, read: RoomRead): RoomRead {
  read.at = Date.now();
  const copy = copyOf(read);
  c.broadcast("readsChanged", { roomId, read: copy });
  return copy;
}

function copyOf(read: RoomRead): RoomRead {
  return { ...read, ownSeqs: [...read.ownSeqs] };
}

/** A reader's key is exactly `[the user's org, the user's id]`. */
function assertOwnReader(key: readonly string[], user: User): void {
  if (key.length !== 2 || key[0] !== user.org || key[1] !== user.id) {
    throw forbidden("These read marks belong to someone else.");
  }
}
