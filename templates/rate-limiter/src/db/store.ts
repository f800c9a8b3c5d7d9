/**
 * Everything the app reads and writes in SQL: the `TenantSource` the actors load tenants from,
 * the `UsageSink` the shards' outbox writes to, and the admin operations (plans and their rules,
 * tenants, API keys, usage history).
 *
 * Every change the actors must see bumps the affected tenants' `version` in the same
 * transaction; the admin routes then call the tenant's coordinator (`Limiter.reload`), which
 * pushes the new configuration to the running shards.
 */
import { randomUUID } from "node:crypto";
import { and, asc, eq, gte, inArray, isNull, sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { inTransaction } from "troupe/outbox";
import type {
  AggregateLimit,
  TenantConfig,
  TenantSource,
  UsageRow,
  UsageSink,
} from "../actors/services.js";
import { generateApiKey } from "../limiter/api-keys.js";
import { parseRule, type Rule } from "../limiter/rules.js";
import type { Db } from "./index.js";
import * as schema from "./schema.js";
import { apiKeys, plans, rules, tenants, usageMinutes } from "./schema.js";

/** A database or a transaction's connection: what the queries below need. */
type Tx = NodePgDatabase<typeof schema>;

export class Store implements TenantSource, UsageSink {
  constructor(private readonly db: Db) {}

  private tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return inTransaction(this.db.$client, (client) => fn(drizzle(client, { schema })));
  }

  // ---- TenantSource ------------------------------------------------------------------------

  async load(tenantId: string): Promise<TenantConfig | undefined> {
    const [tenant] = await this.db.select().from(tenants).where(eq(tenants.id, tenantId));
    if (!tenant) return undefined;
    const [planRules, keys] = await Promise.all([
      this.rulesOf(this.db, tenant.planId),
      this.db
        .select({ id: apiKeys.id, hash: apiKeys.hash, revokedAt: apiKeys.revokedAt })
        .from(apiKeys)
        .where(eq(apiKeys.tenantId, tenantId)),
    ]);
    const byHash: TenantConfig["keys"] = {};
    for (const k of keys) byHash[k.hash] = { keyId: k.id, revoked: k.revokedAt !== null };
    return {
      tenantId,
      version: tenant.version,
      planId: tenant.planId,
      rules: planRules,
      aggregate:
        tenant.aggregateLimit !== null && tenant.aggregateWindowMs !== null
          ? { limit: tenant.aggregateLimit, windowMs: tenant.aggregateWindowMs }
          : null,
      keys: byHash,
    };
  }

  async version(tenantId: string): Promise<number | undefined> {
    const [row] = await this.db
      .select({ version: tenants.version })
      .from(tenants)
      .where(eq(tenants.id, tenantId));
    return row?.version;
  }

  private async rulesOf(db: Tx, planId: string): Promise<Rule[]> {
    const rows = await db
      .select()
      .from(rules)
      .where(eq(rules.planId, planId))
      .orderBy(asc(rules.position));
    return rows.map((r) =>
      parseRule({
        id: r.id,
        match: { route: r.route, method: r.method },
        algorithm: r.algorithm,
        ...(r.algorithm === "token-bucket"
          ? { rate: r.rate, burst: r.burst }
          : { limit: r.limit, windowMs: r.windowMs }),
        cost: r.cost,
        failMode: r.failMode,
      }),
    );
  }

  // ---- UsageSink ---------------------------------------------------------------------------

  async write(rows: readonly (UsageRow & { seq: number })[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db
      .insert(usageMinutes)
      .values(rows.map((r) => ({ ...r, minute: new Date(r.minute) })))
      .onConflictDoNothing();
  }

  // ---- admin -------------------------------------------------------------------------------

  /** Creates or replaces a plan with its rules (already checked by `parseRule`). */
  async putPlan(plan: { id: string; name: string; rules: Rule[] }): Promise<string[]> {
    return this.tx(async (tx) => {
      await tx
        .insert(plans)
        .values({ id: plan.id, name: plan.name })
        .onConflictDoUpdate({ target: plans.id, set: { name: plan.name } });
      await tx.delete(rules).where(eq(rules.planId, plan.id));
      if (plan.rules.length > 0) {
        await tx.insert(rules).values(
          plan.rules.map((r, position) => ({
            planId: plan.id,
            id: r.id,
            route: r.match.route,
            method: r.match.method,
            algorithm: r.algorithm,
            limit: r.algorithm === "token-bucket" ? null : r.limit,
            windowMs: r.algorithm === "token-bucket" ? null : r.windowMs,
            rate: r.algorithm === "token-bucket" ? r.rate : null,
            burst: r.algorithm === "token-bucket" ? r.burst : null,
            cost: r.cost,
            failMode: r.failMode,
            position,
          })),
        );
      }
      const affected = await tx
        .update(tenants)
        .set({ version: sql`${tenants.version} + 1` })
        .where(eq(tenants.planId, plan.id))
        .returning({ id: tenants.id });
      return affected.map((t) => t.id);
    });
  }

  async listPlans() {
    const rows = await this.db.select().from(plans).orderBy(asc(plans.id));
    return Promise.all(rows.map(async (p) => ({ ...p, rules: await this.rulesOf(this.db, p.id) })));
  }

  async createTenant(t: {
    id: string;
    name: string;
    planId: string;
    aggregate: AggregateLimit | null;
  }): Promise<boolean> {
    const inserted = await this.db
      .insert(tenants)
      .values({
        id: t.id,
        name: t.name,
        planId: t.planId,
        aggregateLimit: t.aggregate?.limit ?? null,
        aggregateWindowMs: t.aggregate?.windowMs ?? null,
      })
      .onConflictDoNothing()
      .returning({ id: tenants.id });
    return inserted.length === 1;
  }

  async updateTenant(
    id: string,
    change: { planId?: string; aggregate?: AggregateLimit | null },
  ): Promise<boolean> {
    const set: { [K in keyof typeof tenants.$inferInsert]?: unknown } = {
      version: sql`${tenants.version} + 1`,
    };
    if (change.planId !== undefined) set.planId = change.planId;
    if (change.aggregate !== undefined) {
      set.aggregateLimit = change.aggregate?.limit ?? null;
      set.aggregateWindowMs = change.aggregate?.windowMs ?? null;
    }
    const rows = await this.db
      .update(tenants)
      .set(set as Partial<typeof tenants.$inferInsert>)
      .where(eq(tenants.id, id))
      .returning({ id: tenants.id });
    return rows.length === 1;
  }

  async listTenants() {
    return this.db.select().from(tenants).orderBy(asc(tenants.createdAt));
  }

  async planExists(id: string): Promise<boolean> {
    const rows = await this.db.select({ id: plans.id }).from(plans).where(eq(plans.id, id));
    return rows.length === 1;
  }

  /** Creates a key; the returned `key` is the only time it exists outside the caller. */
  async createKey(tenantId: string, name: string) {
    const { key, hash, prefix } = generateApiKey(tenantId);
    const id = `key_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
    await this.tx(async (tx) => {
      await tx.insert(apiKeys).values({ id, tenantId, name, hash, prefix });
      await tx
        .update(tenants)
        .set({ version: sql`${tenants.version} + 1` })
        .where(eq(tenants.id, tenantId));
    });
    return { id, key, prefix, name };
  }

  async listKeys(tenantId: string) {
    return this.db
      .select({
        id: apiKeys.id,
        name: apiKeys.name,
        prefix: apiKeys.prefix,
        createdAt: apiKeys.createdAt,
        revokedAt: apiKeys.revokedAt,
      })
      .from(apiKeys)
      .where(eq(apiKeys.tenantId, tenantId))
      .orderBy(asc(apiKeys.createdAt));
  }

  /** Revokes a key of `tenantId`; false if it has no such (unrevoked) key. */
  async revokeKey(tenantId: string, keyId: string): Promise<boolean> {
    return this.tx(async (tx) => {
      const rows = await tx
        .update(apiKeys)
        .set({ revokedAt: new Date() })
        .where(
          and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt)),
        )
        .returning({ id: apiKeys.id });
      if (rows.length === 0) return false;
      await tx
        .update(tenants)
        .set({ version: sql`${tenants.version} + 1` })
        .where(eq(tenants.id, tenantId));
      return true;
    });
  }

  /** Usage per minute (summed over shards) since `since`. */
  async usage(tenantId: string, since: Date) {
    const rows = await this.db
      .select({
        minute: usageMinutes.minute,
        rule: usageMinutes.rule,
        allowed: sql<number>`sum(${usageMinutes.allowed})::int`,
        limited: sql<number>`sum(${usageMinutes.limited})::int`,
      })
      .from(usageMinutes)
      .where(and(eq(usageMinutes.tenantId, tenantId), gte(usageMinutes.minute, since)))
      .groupBy(usageMinutes.minute, usageMinutes.rule)
      .orderBy(asc(usageMinutes.minute), asc(usageMinutes.rule));
    return rows;
  }

  /** Usage per day (UTC, summed over shards and minutes) since `since`. */
  async usageByDay(tenantId: string, since: Date) {
    const day = sql<Date>`date_trunc('day', ${usageMinutes.minute}, 'UTC')`;
    return this.db
      .select({
        day,
        rule: usageMinutes.rule,
        allowed: sql<number>`sum(${usageMinutes.allowed})::int`,
        limited: sql<number>`sum(${usageMinutes.limited})::int`,
      })
      .from(usageMinutes)
      .where(and(eq(usageMinutes.tenantId, tenantId), gte(usageMinutes.minute, since)))
      .groupBy(day, usageMinutes.rule)
      .orderBy(asc(day), asc(usageMinutes.rule));
  }

  async tenantsOnPlan(planId: string): Promise<string[]> {
    const rows = await this.db
      .select({ id: tenants.id })
      .from(tenants)
      .where(inArray(tenants.planId, [planId]));
    return rows.map((r) => r.id);
  }
}
