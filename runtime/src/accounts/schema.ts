/**
 * The tables of `troupe/accounts`: organisations, people, sign-in sessions and invite links.
 *
 * A template includes them in its own drizzle schema by re-exporting them, and `drizzle-kit
 * generate` then writes them into the template's migrations with its other tables:
 *
 * @example
 * // src/db/schema.ts of a template
 * export { accounts, invites, organisations, sessions } from "troupe/accounts/schema";
 *
 * This module imports nothing but `drizzle-orm`, so drizzle-kit loads it without the rest of
 * the accounts code. Changing a column here changes every template's next migration: the names,
 * types and constraint names are those of the chat's migration `0001_accounts.sql`.
 */
import { index, integer, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

export const organisations = pgTable("organisations", {
  id: text("id").primaryKey(),
  /** Unique and permanent: the key of the organisation's actors (the chat's `chatRoomList [slug]`, say). */
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
    /** `scrypt$N$r$p$salt$hash` (password.ts). */
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
