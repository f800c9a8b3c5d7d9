/**
 * `chatRoomList`, keyed `[orgId]`: the coordinator of an organisation's rooms.
 *
 * It is the only way to create a room: `createRoom` makes the `chatRoom` actor with `create`
 * (never `getOrCreate`, so an id collision fails loudly) under the key `[orgId, roomId]` with a
 * generated roomId, then lists it. Rooms report their activity back here (throttled, with the
 * in-process key), and every change is broadcast as `roomsChanged` with the full list, which is
 * small enough that clients need no diffing.
 */
import { randomUUID } from "node:crypto";
import type { ActorDefinition, Registry } from "troupe";
import { actor, UserError } from "troupe";
import { z } from "zod";
import type { User } from "../auth.js";
import type { RoomInput } from "./chat-room.js";
import {
  assertInternal,
  type ChatConnParams,
  type ChatConnState,
  type ChatServices,
  forbidden,
  userOf,
} from "./services.js";
import {
  armTokenExpiry,
  clearAllTokenExpiries,
  clearTokenExpiry,
  type TokenTimers,
} from "./token-expiry.js";
import { parse, withoutNul } from "./validation.js";

/** Most rooms one organisation can have. */
export const MAX_ROOMS_PER_ORG = 500;

export interface RoomSummary {
  id: string;
  name: string;
  createdBy: string;
  createdAt: number;
  lastActivityAt: number;
  memberCount: number;
}

export interface RoomActivity {
  roomId: string;
  name: string;
  lastActivityAt: number;
  memberCount: number;
}

const roomName = withoutNul(
  z.string().trim().min(1, "A room needs a name.").max(60, "A room name is at most 60 characters."),
  "A room name",
);

const activity = z.object({
  roomId: z.string().min(1),
  name: z.string(),
  lastActivityAt: z.number(),
  memberCount: z.number().int().min(0),
});

/** The room as the list sees it: only creation with input is used. */
type RoomView = Registry<{
  chatRoom: ActorDefinition<any, ChatConnParams, any, any, RoomInput, {}>;
}>;

export function createChatRoomList(services: ChatServices, internalKey: string) {
  return actor({
    state: { rooms: {} as Record<string, RoomSummary> },
    // Closes each user connection when its token expires, by connection id.
    createVars: (): { tokenTimers: TokenTimers } => ({ tokenTimers: new Map() }),

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

    createConnState: async (c, params: ChatConnParams | undefined): Promise<ChatConnState> => {
      if (params?.internal !== undefined) {
        if (params.internal !== internalKey) throw forbidden("Not an internal caller.");
        return { kind: "internal" };
      }
      const { user, expiresAt } = await services.auth.verifyClaims(params?.token);
      assertOwnList(c.key, user);
      return { kind: "user", user, expiresAt };
    },

    onConnect: (c, conn) => armTokenExpiry(c.vars.tokenTimers, conn),
    onDisconnect: (c, conn) => clearTokenExpiry(c.vars.tokenTimers, conn.id),
    onSleep: (c) => clearAllTokenExpiries(c.vars.tokenTimers),

    actions: {
      listRooms: (c) => {
        userOf(c.conn);
        return sorted(c.state.rooms);
      },

      createRoom: async (c, name: string) => {
        const user = userOf(c.conn);
        const roomNameValue = parse(roomName, name, "room name");
        if (Object.keys(c.state.rooms).length >= MAX_ROOMS_PER_ORG) {
          throw new UserError(`An organisation has at most ${MAX_ROOMS_PER_ORG} rooms.`, {
            code: "too_many_rooms",
          });
        }
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
        };
        c.state.rooms[roomId] = summary;
        c.broadcast("roomsChanged", sorted(c.state.rooms));
        return { ...summary };
      },

      /** Called by rooms (throttled) when messages or members change. */
      roomActivity: (c, update: RoomActivity) => {
        assertInternal(c.conn);
        const u = parse(activity, update, "room activity");
        const room = c.state.rooms[u.roomId];
        if (!room) return;
        if (room.lastActivityAt === u.lastActivityAt && room.memberCount === u.memberCount) return;
        room.lastActivityAt = Math.max(room.lastActivityAt, u.lastActivityAt);
        room.memberCount = u.memberCount;
        c.broadcast("roomsChanged", sorted(c.state.rooms));
      },
    },
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
    .map((r) => ({ ...r }))
    .sort((a, b) => b.lastActivityAt - a.lastActivityAt);
}
