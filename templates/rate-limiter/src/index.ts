/**
 * The package's public entry (`exports["."]` in package.json): everything another Hono app needs
 * to put the limiter in front of its own routes, with no SQL and nothing else of this app. The
 * limiter's actors (`createRegistry`), a `Limiter` over them, the limits (`parseRule`, in memory
 * with `MemoryTenants` or from a `TenantSource` of its own), API keys, and the middleware.
 *
 * @example
 * import { Hono } from "hono";
 * import { createRegistry, Limiter, MemoryTenants, parseRule, rateLimit } from "<this package>";
 *
 * const tenants = new MemoryTenants();
 * tenants.put({
 *   tenantId: "public",
 *   rules: [parseRule({ id: "search", match: { route: "/search" }, algorithm: "fixed-window",
 *     limit: 100, windowMs: 60_000 })],
 * });
 * const limiter = await Limiter.start(createRegistry({ tenants }, { storage: "memory" }));
 * const app = new Hono();
 * app.use("/search", rateLimit({ limiter,
 *   key: (c) => ({ tenant: "public", key: c.req.header("x-forwarded-for") ?? "anonymous" }) }));
 */

export {
  type AggregateLimit,
  createRegistry,
  IDLE_SWEEP_INTERVAL_MS,
  type KeyCheck,
  type KeyRecord,
  type LimiterRegistry,
  type LimiterServices,
  type LimiterTuning,
  MAX_KEYS_PER_SHARD,
  SHARDS_PER_TENANT,
  SNAPSHOT_INTERVAL_MS,
  TENANT_ID,
  type TenantConfig,
  type TenantSource,
  type UsageRow,
  type UsageSink,
} from "./actors/index.js";
export {
  generateApiKey,
  hashApiKey,
  type ParsedApiKey,
  parseApiKey,
} from "./limiter/api-keys.js";
export {
  type Authentication,
  type KnownKey,
  Limiter,
  type LimiterOptions,
} from "./limiter/limiter.js";
export { MemoryTenants } from "./limiter/memory-tenants.js";
export {
  type Algorithm,
  MAX_LIMIT,
  MAX_WINDOW_MS,
  MIN_WINDOW_MS,
  parseRule,
  type Rule,
  RuleError,
  type RuleInput,
  ruleSchema,
} from "./limiter/rules.js";
export type { CheckRequest, PolicyStatus, RefusalCode, Verdict } from "./limiter/verdict.js";
export {
  type ApiKeyInfo,
  type ApiKeyRateLimitOptions,
  apiKey,
  apiKeyRateLimit,
  DEFAULT_AUTH_BUDGET_MS,
  DEFAULT_BUDGET_MS,
  type RateLimitEnv,
  type RateLimitOptions,
  rateLimit,
} from "./middleware/index.js";
