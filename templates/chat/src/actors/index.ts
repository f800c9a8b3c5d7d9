/**
 * The chat's registry: `chatRoomList` (one per organisation, the coordinator), `chatRoom`
 * (one per room) and `chatReader` (one per person: read positions, for unread counts). Built by a function from the app's services rather than at module load, so
 * the database and the token secret are passed in, and tests can run several apps side by side.
 *
 * @example
 * const registry = createRegistry({ auth, db }, { storage: "memory" });
 * const client = createClient<ChatRegistry>("http://localhost:3000");
 */
import { type Logger, type StorageOption, setup } from "troupe";
import { createChatReader } from "./chat-reader.js";
import { createChatRoom } from "./chat-room.js";
import { createChatRoomList } from "./chat-room-list.js";
import { type ChatServices, createInternalKey } from "./services.js";

/** Troupe's logger: what `setup({ logger })` takes (default: stderr). */
export type ChatLogger = Logger;

export function createRegistry(
  services: ChatServices,
  opts: { storage?: StorageOption; logger?: ChatLogger } = {},
) {
  const internalKey = createInternalKey();
  return setup({
    use: {
      chatRoomList: createChatRoomList(services, internalKey),
      chatRoom: createChatRoom(services, internalKey),
      chatReader: createChatReader(services, internalKey),
    },
    storage: opts.storage,
    logger: opts.logger,
  });
}

export type ChatRegistry = ReturnType<typeof createRegistry>;
export type { RoomRead } from "./chat-reader.js";
export type { Member, Message, RoomState } from "./chat-room.js";
export type { RoomSummary } from "./chat-room-list.js";
export type { ChatConnParams } from "./services.js";
