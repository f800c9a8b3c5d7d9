/**
 * The limiter's registry: `tenantLimiter [tenantId]` (one per tenant: its configuration, API
 * key checks, the aggregate limit's leases) and `limiterShard [tenantId, shard]` (the counters
 * of the keys hashing to that shard), and `tenantTraffic [tenantId]` (the live per-second
 * counts the dashboard's chart draws, reported by the shards). Built by a function from the app's services, so tests and
 * benchmarks run a limiter on an in-memory tenant source and the app on SQL.
 *
 * @example
 * const registry = createRegistry({ tenants: sqlTenants(db), usage: sqlUsage(db) });
 * const limiter = await Limiter.start(registry);
 */
import { type Logger, type StorageOption, setup } from "troupe";
import { createLimiterShard } from "./limiter-shard.js";
import { type LimiterServices, tuningOf } from "./services.js";
import { createTenantLimiter } from "./tenant-limiter.js";
import { createTenantTraffic } from "./tenant-traffic.js";

export function createRegistry(
  services: LimiterServices,
  opts: { storage?: StorageOption; logger?: Logger } = {},
) {
  const tuning = tuningOf(services);
  const registry = setup({
    use: {
      tenantLimiter: createTenantLimiter(services, tuning),
      limiterShard: createLimiterShard(services, tuning),
      tenantTraffic: createTenantTraffic(services),
    },
    storage: opts.storage,
    logger: opts.logger,
  });
  // The tunables travel with the registry, so a `Limiter` hashes onto the same shard count.
  return Object.assign(registry, { tuning });
}

export type LimiterRegistry = ReturnType<typeof createRegistry>;
export * from "./services.js";
export type { KeyCheck } from "./tenant-limiter.js";
export type { RuleCounts, TrafficSecond } from "./tenant-traffic.js";
