/**
 * `chatRoomList`, keyed `[orgId]`: the coordinator of an organisation's rooms.
 *
 * It is the only way to create a room: `createRoom` makes the `chatRoom` actor with `create`
 * (never `getOrCreate`, so an id collision fails loudly) under the key `[orgId, roomId]` with a
 * generated roomId, then lists it. Rooms report their activity back here (throttled, with the
 * in-process key), and every change is broadcast as `roomsChanged` with the full list, which is
 * small enough that clients need no diffing.
 *
 * It is also the single writer of room names: names are unique in the organisation (compared
 * without case and with runs of spaces as one, `nameKey`), checked here on create and rename,
 * with the name reserved across the await so that two concurrent requests cannot both take it.
 * Renaming and deleting are for the room's creator or an admin of the organisation (the role is
 * read from SQL, not from the token or the arguments). A deletion destroys the room's actor
 * (its connections are closed with "destroyed") and queues the SQL soft-delete in this actor's
 * own outbox, since the room's state goes with it.
 */
import { randomUUID } from "node:crypto";
import type { ActorContext, ActorDefinition, Registry } from "troupe";
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
import { type ChatOutboxEntry, type ChatOutboxState, writeBatch } from "../db/outbox.js";
import type { RoomInput } from "./chat-room.js";
import {
  assertInternal,
  type ChatConnParams,
  type ChatConnState,
  type ChatServices,
  connStateOf,
  forbidden,
  isOrgAdmin,
  userOf,
} from "./services.js";
import { parse, withoutNul } from "./validation.js";

/** Most rooms one organisation can have (`maxRoomsPerOrg` in ChatServices overrides it). */
export const MAX_ROOMS_PER_ORG = 500;

/** While the list's outbox is not empty, it checks it this often (an alarm, so it survives sleep). */
const OUTBOX_CHECK_MS = 30_000;

export interface RoomSummary {
  id: string;
  name: string;
  createdBy: string;
  createdAt: number;
  lastActivityAt: number;
  memberCount: number;
  /** Seq of the room's newest message (0 without any): clients count unread messages with it. */
  lastSeq: number;
}

export interface RoomActivity {
  roomId: string;
  name: string;
  lastActivityAt: number;
  memberCount: number;
  lastSeq?: number;
}

export interface RoomListState extends ChatOutboxState {
  rooms: Record<string, RoomSummary>;
}

export interface RoomListVars {
  /** Closes each user connection when its token expires, by connection id. */
  tokenTimers: TokenTimers;
  /** Name keys taken by a create or rename that is still awaiting its room. */
  reservedNames: Set<string>;
  /** Rooms with a rename or deletion under way. */
  busyRooms: Set<string>;
  flusher: OutboxFlusher<ChatOutboxEntry> | undefined;
}

const roomName = withoutNul(
  z
    .string()
    .trim()
    .min(1, "A room needs a name.")
    .max(60, "A room name is at most 60 characters.")
    .transform((s) => s.replace(/\s+/g, " ")),
  "A room name",
);
const roomIdArg = withoutNul(z.string().min(1).max(100), "A room id");

const activity = z.object({
  roomId: z.string().min(1),
  name: z.string(),
  lastActivityAt: z.number(),
  memberCount: z.number().int().min(0),
  lastSeq: z.number().int().min(0).optional(),
});

/**
 * What makes two room names the same: case, Unicode compatibility forms and runs of white space
 * do not count ("Launch  Plans" is "launch plans").
 */
export function nameKey(name: string): string {
  return name.normalize("NFKC").trim().replace(/\s+/g, " ").toLowerCase();
}

/** The room as the list sees it: creation with input, and the two internal actions it calls. */
type RoomView = Registry<{
  chatRoom: ActorDefinition<
    any,
    ChatConnParams,
    any,
    any,
    RoomInput,
    {
      applyRename: (c: any, name: string) => { name: string };
      closeForDeletion: (c: any, by: { userId: string; name: string }) => { deleted: true };
    }
  >;
}>;

export function createChatRoomList(services: ChatServices, internalKey: string) {
  const maxRooms = services.maxRoomsPerOrg ?? MAX_ROOMS_PER_ORG;
  return actor({
    state: { rooms: {}, outbox: [], outboxSeq: 0 } as RoomListState,
    createVars: (): RoomListVars => ({
      tokenTimers: new Map(),
      reservedNames: new Set(),
      busyRooms: new Set(),
      flusher: undefined,
    }),

    /**
     * A room list is created only by a signed-in member of its organisation, under the key
     * `[org]` exactly: any other key (`["acme", "shadow-1"]`) would be a second list with its own
     * budget of rooms. Rooms reporting activity (in-process, with the internal key) may too.
     */
    onBeforeCreate: async (_c, { key, params }) => {
      const p = params as ChatConnParams | undefined;
      if (p?.internal !== undefined) {
        if (p.internal !== internalKey) throw forbidden("Not an internal caller.");
        return;
      }
      assertOwnList(key, await services.auth.verify(p?.token));
    },

    createConnState: (c, params: ChatConnParams | undefined): Promise<ChatConnState> =>
      connStateOf(services, internalKey, params, (user) => assertOwnList(c.key, user)),

    onWake: async (c) => {
      // Lists stored before deletions existed have no outbox yet.
      if (!Array.isArray(c.state.outbox)) {
        c.state.outbox = [];
        c.state.outboxSeq = 0;
      }
      c.vars.flusher = new OutboxFlusher<ChatOutboxEntry>({
        get state() {
          return c.state;
        },
        write: (batch) => writeBatch(services.db, batch),
        keepAwake: (p) => c.waitUntil(p),
        log: c.log,
      });
      c.vars.flusher.kick(0);
    },

    onConnect: (c, conn) => {
      watchConnection(c.vars.tokenTimers, services.auth.revocations, conn);
    },
    onDisconnect: (c, conn) => {
      unwatchConnection(c.vars.tokenTimers, services.auth.revocations, conn);
    },
    onSleep: async (c) => {
      clearAllTokenExpiries(c.vars.tokenTimers);
      const flusher = c.vars.flusher;
      if (flusher) {
        // Best effort; what is left stays in state, and the outbox alarm wakes the list for it.
        await Promise.race([flusher.flushNow(), new Promise((r) => setTimeout(r, 2000))]);
        flusher.stop();
      }
    },

    actions: {
      listRooms: (c) => {
        userOf(c.conn);
        return sorted(c.state.rooms);
      },

      createRoom: async (c, name: string) => {
        const user = userOf(c.conn);
        const roomNameValue = parse(roomName, name, "room name");
        // Creations still awaiting their room count too (with renames in flight: stricter, safe).
        if (Object.keys(c.state.rooms).length + c.vars.reservedNames.size >= maxRooms) {
          throw new UserError(`An organisation has at most ${maxRooms} rooms.`, {
            code: "too_many_rooms",
          });
        }
        const key = reserveName(c, roomNameValue);
        try {
          const orgId = c.key[0]!;
          const roomId = randomUUID();
          // In-process and without params: the one creation the room's onBeforeCreate lets through.
          await c.client<RoomView>().chatRoom.create([orgId, roomId], {
            input: {
              name: roomNameValue,
              createdBy: user.id,
              createdByName: user.name,
            },
          });
          const now = Date.now();
          const summary: RoomSummary = {
            id: roomId,
            name: roomNameValue,
            createdBy: user.id,
            createdAt: now,
            lastActivityAt: now,
            memberCount: 1, // the creator
            lastSeq: 0,
          };
          c.state.rooms[roomId] = summary;
          c.broadcast("roomsChanged", sorted(c.state.rooms));
          return { ...summary };
        } finally {
          c.vars.reservedNames.delete(key);
        }
      },

      /**
       * Renames a room (its creator or an admin). The room hears it first (its state, its SQL
       * row through its outbox, `roomRenamed` to whoever has it open); then the list.
       */
      renameRoom: async (c, roomId: string, name: string) => {
        const user = userOf(c.conn);
        const id = parse(roomIdArg, roomId, "room id");
        const newName = parse(roomName, name, "room name");
        const room = await manageableRoom(c, id, user, "rename");
        if (room.name === newName) return { ...room };
        // Only the case or spacing changes: the room keeps its own name key.
        const key = nameKey(newName) === nameKey(room.name) ? null : reserveName(c, newName);
        c.vars.busyRooms.add(id);
        try {
          await roomHandle(c, id).applyRename(newName);
          const current = c.state.rooms[id];
          if (!current) throw roomGone();
          current.name = newName;
          c.broadcast("roomsChanged", sorted(c.state.rooms));
          return { ...current };
        } finally {
          c.vars.busyRooms.delete(id);
          if (key) c.vars.reservedNames.delete(key);
        }
      },

      /**
       * Deletes a room for good (its creator or an admin): its actor is destroyed (open
       * connections are closed, after a `roomDeleted` event), it leaves the list of every member
       * at once, and its SQL row is marked deleted through this list's outbox (search skips it).
       */
      deleteRoom: async (c, roomId: string) => {
        const user = userOf(c.conn);
        const id = parse(roomIdArg, roomId, "room id");
        const room = await manageableRoom(c, id, user, "delete");
        c.vars.busyRooms.add(id);
        try {
          try {
            await roomHandle(c, id).closeForDeletion({ userId: user.id, name: user.name });
          } catch (err) {
            // Destroyed already (a deletion whose list update did not land): carry on.
            if ((err as { code?: string }).code !== "actor_not_found") throw err;
          }
          delete c.state.rooms[id];
          enqueue(c.state, {
            kind: "roomDeleted",
            room: {
              id,
              orgId: c.key[0]!,
              name: room.name,
              createdBy: room.createdBy,
              createdAt: room.createdAt,
            },
            deletedAt: Date.now(),
          });
          c.vars.flusher?.kick();
          await ensureOutboxAlarm(c);
          c.broadcast("roomDeleted", { id, name: room.name, by: user.name });
          c.broadcast("roomsChanged", sorted(c.state.rooms));
          return { id };
        } finally {
          c.vars.busyRooms.delete(id);
        }
      },

      /** Alarm: keeps the list awake enough to drain its outbox (room deletions) into SQL. */
      flushOutbox: async (c) => {
        assertInternal(c.conn);
        await c.vars.flusher?.flushNow();
        await ensureOutboxAlarm(c);
        return { pending: c.state.outbox.length };
      },

      /** Called by rooms (throttled) when messages or members change. */
      roomActivity: (c, update: RoomActivity) => {
        assertInternal(c.conn);
        const u = parse(activity, update, "room activity");
        const room = c.state.rooms[u.roomId];
        if (!room) return;
        const lastSeq = Math.max(room.lastSeq ?? 0, u.lastSeq ?? 0);
        if (
          room.lastActivityAt === u.lastActivityAt &&
          room.memberCount === u.memberCount &&
          room.lastSeq === lastSeq
        ) {
          return;
        }
        room.lastActivityAt = Math.max(room.lastActivityAt, u.lastActivityAt);
        room.memberCount = u.memberCount;
        room.lastSeq = lastSeq;
        c.broadcast("roomsChanged", sorted(c.state.rooms));
      },
    },
  });

  type ListCtx = ActorContext<RoomListState, any, ChatConnState, RoomListVars, any>;

  /**
   * Takes `name` for a create or rename in progress, or refuses it: `room_name_taken` if a room
   * (or a request under way) has it. The caller releases the key it returns when done.
   */
  function reserveName(c: ListCtx, name: string): string {
    const key = nameKey(name);
    const existing = Object.values(c.state.rooms).find((r) => nameKey(r.name) === key);
    if (existing || c.vars.reservedNames.has(key)) {
      throw new UserError(`There is already a room called "${existing?.name ?? name}".`, {
        code: "room_name_taken",
        metadata: { roomId: existing?.id ?? null, name: existing?.name ?? name },
      });
    }
    c.vars.reservedNames.add(key);
    return key;
  }

  /** The room, if `user` may rename or delete it: its creator, or an admin (role from SQL). */
  async function manageableRoom(
    c: ListCtx,
    id: string,
    user: User,
    what: "rename" | "delete",
  ): Promise<RoomSummary> {
    const room = c.state.rooms[id];
    if (!room) throw roomGone();
    if (room.createdBy !== user.id && !(await isOrgAdmin(services.db, user))) {
      throw forbidden(`Only the room's creator or an admin can ${what} it.`);
    }
    // Checked after the await: the room may have gone, or another change started, meanwhile.
    if (!c.state.rooms[id]) throw roomGone();
    if (c.vars.busyRooms.has(id)) {
      throw new UserError("This room is being changed right now. Try again in a moment.", {
        code: "room_busy",
      });
    }
    return c.state.rooms[id]!;
  }

  function roomHandle(c: ListCtx, id: string) {
    return c
      .client<RoomView>()
      .chatRoom.get([c.key[0]!, id], { params: { internal: internalKey } });
  }

  async function ensureOutboxAlarm(c: ListCtx): Promise<void> {
    if (c.state.outbox.length === 0) return;
    const now = Date.now();
    if (!c.schedule.list().some((a) => a.action === "flushOutbox" && a.at > now)) {
      await c.schedule.after(OUTBOX_CHECK_MS, "flushOutbox");
    }
  }
}

function roomGone(): UserError {
  return new UserError("There is no such room (it may have been deleted).", {
    code: "room_not_found",
  });
}

/** The list's key is exactly `[the user's org]`. */
function assertOwnList(key: readonly string[], user: User): void {
  if (key.length !== 1 || key[0] !== user.org) {
    throw forbidden("These rooms belong to another organisation.");
  }
}

function sorted(rooms: Record<string, RoomSummary>): RoomSummary[] {
  return Object.values(rooms)
    .map((r) => ({ ...r, lastSeq: r.lastSeq ?? 0 }))
    .sort((a, b) => b.lastActivityAt - a.lastActivityAt);
}
