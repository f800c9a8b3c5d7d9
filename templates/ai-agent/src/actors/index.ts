/**
 * The agent's registry: `agentList` (one per user: conversations, daily token budget) and
 * `agent` (one per conversation). Built from the app's services, so tests run several apps.
 *
 * @example
 * const registry = createRegistry(services, { storage: "memory" });
 * const client = createClient<AgentRegistry>("http://localhost:3000");
 */
import { type Logger, type StorageOption, setup } from "troupe";
import { groupedWriter } from "../db/outbox.js";
import { createAgent } from "./agent.js";
import { createAgentList } from "./agent-list.js";
import { type AgentServices, createInternalKey } from "./services.js";

export function createRegistry(
  services: AgentServices,
  opts: { storage?: StorageOption; logger?: Logger } = {},
) {
  const internalKey = createInternalKey();
  // One writer for every outbox of this registry: their flushes share transactions.
  const writeOutbox = groupedWriter(services.db);
  return setup({
    use: {
      agentList: createAgentList(services, internalKey, writeOutbox),
      agent: createAgent(services, internalKey, writeOutbox),
    },
    storage: opts.storage,
    logger: opts.logger,
  });
}

export type AgentRegistry = ReturnType<typeof createRegistry>;
export type {
  ChatMessage,
  ConversationView,
  MessageStatus,
  PendingApproval,
  StreamChunk,
  TokenEvent,
  ToolCallView,
} from "./agent.js";
export type { ConversationSummary, DailyUsage } from "./agent-list.js";
export type { AgentConnParams } from "./services.js";
