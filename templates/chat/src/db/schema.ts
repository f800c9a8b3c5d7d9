/**
 * The SQL side of the chat: what outlives actor state and what SQL is good at (history beyond
 * the recent window, full-text search across rooms). Actors own the truth for live data and
 * write here through their outbox (`src/db/outbox.ts`), so every write is an idempotent upsert
 * keyed by a stable id, and `messages.version` stops an older snapshot from overwriting a newer.
 *
 * Migrations are generated from this file with `pnpm db:generate` into `src/db/migrations/`.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });

export const rooms = pgTable(
  "rooms",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    name: text("name").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    /**
     * Set when the room is deleted. The row and its messages stay (an audit trail an admin can
     * read in SQL), but search skips them. Soft, not a DELETE: the room's own outbox may still
     * be writing its last messages when the room list records the deletion, and a late upsert
     * would bring hard-deleted rows back, where this flag stays set whatever arrives after it.
     */
    deletedAt: timestamp("deleted_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [index("rooms_org_idx").on(t.orgId)],
);

export const members = pgTable(
  "members",
  {
    roomId: text("room_id").notNull(),
    userId: text("user_id").notNull(),
    displayName: text("display_name").notNull(),
    joinedAt: timestamp("joined_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] })],
);

export const messages = pgTable(
  "messages",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    roomId: text("room_id").notNull(),
    /** Position in its room, assigned by the room actor: the history cursor. */
    seq: bigint("seq", { mode: "number" }).notNull(),
    authorId: text("author_id").notNull(),
    authorName: text("author_name").notNull(),
    text: text("text").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    editedAt: timestamp("edited_at", { withTimezone: true, mode: "date" }),
    deletedAt: timestamp("deleted_at", { withTimezone: true, mode: "date" }),
    /** Bumped by every edit or delete; an upsert only applies a higher version. */
    version: integer("version").notNull().default(1),
    search: tsvector("search").generatedAlwaysAs(sql`to_tsvector('english', coalesce("text", ''))`),
  },
  (t) => [
    index("messages_room_seq_idx").on(t.roomId, t.seq),
    index("messages_org_created_idx").on(t.orgId, t.createdAt),
    index("messages_search_idx").using("gin", t.search),
  ],
);

export type MessageRow = typeof messages.$inferInsert;

// ---- accounts: organisations, people, sessions, invites --------------------------------------
// Defined once in `troupe/accounts` for every template; re-exported here so that drizzle-kit
// includes them in the chat's migrations (`0001_accounts.sql` created them).

export {
  type AccountRow,
  accounts,
  type InviteRow,
  invites,
  organisations,
  sessions,
} from "troupe/accounts/schema";
