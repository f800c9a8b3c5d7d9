/**
 * The limiter's SQL: who the tenants are, which plan each is on and that plan's rules, their
 * API keys (SHA-256 hashes only), usage per minute (written by the shards' outbox) and the
 * admin's password hash. The actors read tenants, plans, rules and keys through
 * `SqlTenants` (src/db/tenants.ts) and cache them; SQL is the truth for configuration.
 *
 * Migrations are generated from this file with `pnpm db:generate` into `src/db/migrations/`.
 */
import {
  bigint,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

export const plans = pgTable("plans", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/** One rule of a plan; columns that an algorithm does not use are null. */
export const rules = pgTable(
  "rules",
  {
    planId: text("plan_id")
      .notNull()
      .references(() => plans.id, { onDelete: "cascade" }),
    id: text("id").notNull(),
    route: text("route").notNull(),
    method: text("method").notNull(),
    algorithm: text("algorithm").notNull(),
    limit: integer("limit"),
    windowMs: bigint("window_ms", { mode: "number" }),
    rate: doublePrecision("rate"),
    burst: integer("burst"),
    cost: integer("cost").notNull(),
    failMode: text("fail_mode").notNull(),
    position: integer("position").notNull(),
  },
  (t) => [primaryKey({ columns: [t.planId, t.id] })],
);

export const tenants = pgTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  planId: text("plan_id")
    .notNull()
    .references(() => plans.id),
  /** The tenant's aggregate limit across all keys (null: none). */
  aggregateLimit: integer("aggregate_limit"),
  aggregateWindowMs: bigint("aggregate_window_ms", { mode: "number" }),
  /** Grows with every change that the actors must see (plan, its rules, keys). */
  version: integer("version").notNull().default(1),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** SHA-256 (hex) of the whole key; the key itself is never stored. */
    hash: text("hash").notNull().unique(),
    /** `rl_<tenant>_` and the first characters of the secret, to recognise a key. */
    prefix: text("prefix").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [index("api_keys_tenant_idx").on(t.tenantId)],
);

/**
 * Usage per minute per rule, as each shard rolled it up. `seq` is the shard's outbox sequence
 * number, so a replayed batch inserts nothing twice; read with SUM over (tenant, minute, rule).
 */
export const usageMinutes = pgTable(
  "usage_minutes",
  {
    tenantId: text("tenant_id").notNull(),
    shard: integer("shard").notNull(),
    seq: integer("seq").notNull(),
    minute: timestamp("minute", { withTimezone: true, mode: "date" }).notNull(),
    rule: text("rule").notNull(),
    allowed: integer("allowed").notNull(),
    limited: integer("limited").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.shard, t.seq] }),
    index("usage_minutes_tenant_minute_idx").on(t.tenantId, t.minute),
  ],
);

/** The dashboard's admin: one row, its scrypt hash set from ADMIN_PASSWORD on first start. */
export const admin = pgTable("admin", {
  id: integer("id").primaryKey(),
  passwordHash: text("password_hash").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/**
 * Admin tokens ended by signing out, until they would have expired anyway (then pruned). Read
 * into memory at start, so checking a token needs no database round trip.
 */
export const adminSignOuts = pgTable("admin_sign_outs", {
  sessionId: text("session_id").primaryKey(),
  expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
});
