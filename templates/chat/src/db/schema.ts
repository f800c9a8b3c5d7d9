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
  uniqueIndex,
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

// ---- accounts: organisations, people, sessions, invites (see src/accounts/) -------------------

export const organisations = pgTable("organisations", {
  id: text("id").primaryKey(),
  /** Unique and permanent: the key of the organisation's actors (`chatRoomList [slug]`). */
  slug: text("slug").notNull().unique(),
  name: text("name").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
});

export const accounts = pgTable(
  "accounts",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organisations.id),
    /** Username or email, trimmed and lower-cased: unique within the organisation. */
    login: text("login").notNull(),
    displayName: text("display_name").notNull(),
    /** `scrypt$N$r$p$salt$hash` (src/accounts/password.ts). */
    passwordHash: text("password_hash").notNull(),
    role: text("role", { enum: ["admin", "member"] }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    /** Set when an admin removes the person: they can neither sign in nor refresh. */
    removedAt: timestamp("removed_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [uniqueIndex("accounts_org_login_idx").on(t.orgId, t.login)],
);

/** One per sign-in: tokens carry its id (`sid`), and refresh works only while it is not revoked. */
export const sessions = pgTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    lastRefreshedAt: timestamp("last_refreshed_at", { withTimezone: true, mode: "date" }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [index("sessions_account_idx").on(t.accountId)],
);

/**
 * Invite links. The code is a random 192-bit id, kept as is (not hashed) so that members can
 * copy the link again; it only lets someone join, it expires, and renewing revokes it.
 */
export const invites = pgTable(
  "invites",
  {
    code: text("code").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organisations.id),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
    /** How many people joined with it. */
    uses: integer("uses").notNull().default(0),
  },
  (t) => [index("invites_org_idx").on(t.orgId)],
);

export type AccountRow = typeof accounts.$inferSelect;
export type InviteRow = typeof invites.$inferSelect;
