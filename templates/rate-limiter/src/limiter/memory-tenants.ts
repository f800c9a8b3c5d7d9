/**
 * A `TenantSource` held in memory: for a limiter without a database (benchmarks, tests of the
 * actors and the middleware, an app that configures its limits in code). The app's own source
 * reads SQL (`src/db/tenants.ts`).
 *
 * @example
 * const tenants = new MemoryTenants();
 * tenants.put({ tenantId: "acme", rules: [parseRule({...})] });
 * const registry = createRegistry({ tenants });
 */
import type { AggregateLimit, KeyRecord, TenantConfig, TenantSource } from "../actors/services.js";
import type { Rule } from "./rules.js";

export class MemoryTenants implements TenantSource {
  private readonly tenants = new Map<string, TenantConfig>();

  put(t: {
    tenantId: string;
    rules: Rule[];
    planId?: string;
    aggregate?: AggregateLimit | null;
    keys?: Record<string, KeyRecord>;
  }): TenantConfig {
    const version = (this.tenants.get(t.tenantId)?.version ?? 0) + 1;
    const config: TenantConfig = {
      tenantId: t.tenantId,
      version,
      planId: t.planId ?? "custom",
      rules: t.rules,
      aggregate: t.aggregate ?? null,
      keys: t.keys ?? {},
    };
    this.tenants.set(t.tenantId, config);
    return config;
  }

  async load(tenantId: string): Promise<TenantConfig | undefined> {
    return this.tenants.get(tenantId);
  }
}
