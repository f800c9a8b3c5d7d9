/**
 * The SQL side of the agent: conversations, their messages and tool calls (what outlives actor
 * state and what a person or an admin queries later), the user's notes (the notes tools read and
 * write them here), and token usage per user per day.
 *
 * Actors own the truth for conversations and write here through their outbox
 * (`src/db/outbox.ts`): every write is an idempotent upsert keyed by a stable id, and `version`
 * stops an older snapshot from overwriting a newer one. Notes are written by the tools directly
 * (a tool's result must say whether the note was saved, and `searchNotes` must see it at once).
 *
 * Migrations are generated from this file with `pnpm db:generate` into `src/db/migrations/`.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const conversations = pgTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    title: text("title").notNull(),
    createdAt: ts("created_at").notNull(),
    lastActivityAt: ts("last_activity_at").notNull(),
    version: integer("version").notNull(),
  },
  (t) => [index("conversations_user_idx").on(t.userId, t.lastActivityAt)],
);

export const messages = pgTable(
  "messages",
  {
    id: text("id").primaryKey(),
    conversationId: text("conversation_id").notNull(),
    userId: text("user_id").notNull(),
    /** Position in its conversation, assigned by the agent actor. */
    seq: integer("seq").notNull(),
    /** user | assistant | reminder */
    role: text("role").notNull(),
    text: text("text").notNull(),
    /** complete | stopped | interrupted | error, or streaming / awaiting_approval meanwhile. */
    status: text("status").notNull(),
    /** Why a message ended as "error", in words. */
    error: text("error"),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    createdAt: ts("created_at").notNull(),
    version: integer("version").notNull(),
  },
  (t) => [index("messages_conversation_idx").on(t.conversationId, t.seq)],
);

export const toolCalls = pgTable(
  "tool_calls",
  {
    conversationId: text("conversation_id").notNull(),
    /** The model's id for the call: unique within a conversation only. */
    id: text("id").notNull(),
    messageId: text("message_id").notNull(),
    userId: text("user_id").notNull(),
    name: text("name").notNull(),
    args: jsonb("args"),
    result: jsonb("result"),
    /** running | awaiting_approval | done | denied | error */
    status: text("status").notNull(),
    error: text("error"),
    createdAt: ts("created_at").notNull(),
    version: integer("version").notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.id] })],
);

export const notes = pgTable(
  "notes",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    text: text("text").notNull(),
    createdAt: ts("created_at").notNull().default(sql`now()`),
  },
  (t) => [index("notes_user_idx").on(t.userId, t.createdAt)],
);

export const usageDaily = pgTable(
  "usage_daily",
  {
    userId: text("user_id").notNull(),
    day: date("day", { mode: "string" }).notNull(),
    inputTokens: bigint("input_tokens", { mode: "number" }).notNull(),
    outputTokens: bigint("output_tokens", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.day] })],
);

// ---- accounts: organisations, people, sessions, invites --------------------------------------
// Defined once in `troupe/accounts` for every template; re-exported here so that drizzle-kit
// includes them in the agent's migrations (`0001_accounts.sql` created them).

export {
  type AccountRow,
  accounts,
  type InviteRow,
  invites,
  organisations,
  sessions,
} from "troupe/accounts/schema";
