/**
 * What the limiter's actors need from the app around them, and the tunables, as named constants
 * with per-registry overrides (tests shrink them). The registry is built from these
 * (`createRegistry(services)`), so a test or a benchmark can run a limiter without SQL by
 * handing it an in-memory `TenantSource`, and the app hands it the SQL one.
 */
import { Forbidden } from "troupe";
import type { Rule } from "../limiter/rules.js";

/** Shard actors per tenant. Changing it moves most keys to another shard (README: rebalancing). */
export const SHARDS_PER_TENANT = 8;
/** Counters a shard keeps in memory at most; beyond it the least recently used key goes. */
export const MAX_KEYS_PER_SHARD = 50_000;
/**
 * How often a shard copies its changed counters into its durable state. A crash (kill -9)
 * forgets at most the decisions of this interval plus one storage write: see the README.
 */
export const SNAPSHOT_INTERVAL_MS = 1000;
/** How often a shard drops counters that are back to their initial value. */
export const IDLE_SWEEP_INTERVAL_MS = 10_000;
/** How often a tenant coordinator re-reads its tenant from the source (changes made elsewhere). */
export const CONFIG_REFRESH_MS = 1000;
/** Most tokens of the tenant's aggregate limit a shard takes from the coordinator at once. */
export const LEASE_BATCH = 100;
/** How often usage per minute is rolled up into the SQL outbox. */
export const USAGE_ROLLUP_MS = 60_000;
/** Usage is counted per bucket of this length (a minute; tests shorten it). */
export const USAGE_BUCKET_MS = 60_000;

/**
 * How long a shard or coordinator stays awake without calls. Waking one takes longer than the
 * middleware's time budget (it loads the tenant), so they stay awake a while: counters are
 * bounded anyway.
 */
export const LIMITER_SLEEP_TIMEOUT_MS = 15 * 60 * 1000;

/** A tenant's aggregate limit across all its keys: at most `limit` per fixed window. */
export interface AggregateLimit {
  limit: number;
  windowMs: number;
}

/** An API key as the coordinator caches it: looked up by the SHA-256 of the whole key. */
export interface KeyRecord {
  keyId: string;
  revoked: boolean;
}

/** Everything the actors need to know about a tenant; `version` grows with every change. */
export interface TenantConfig {
  tenantId: string;
  version: number;
  planId: string;
  rules: Rule[];
  aggregate: AggregateLimit | null;
  /** By SHA-256 (hex) of the API key. */
  keys: Record<string, KeyRecord>;
}

/** Where tenants come from: SQL in the app (`db/tenants.ts`), a map in tests and benchmarks. */
export interface TenantSource {
  load(tenantId: string): Promise<TenantConfig | undefined>;
  /** The tenant's current `version` (undefined: no such tenant): a cheap check before `load`. */
  version?(tenantId: string): Promise<number | undefined>;
}

/** One minute of one route's traffic on one shard: what the rollup writes to SQL. */
export interface UsageRow {
  tenantId: string;
  shard: number;
  /** Start of the minute (ms since epoch). */
  minute: number;
  /** The rule that counted the requests (`*` when no rule matched). */
  rule: string;
  allowed: number;
  limited: number;
}

/** Where rolled-up usage goes; must be idempotent (a batch may be replayed after a crash). */
export interface UsageSink {
  /** `seq` is unique per (tenant, shard): the row's identity when a batch is replayed. */
  write(rows: readonly (UsageRow & { seq: number })[]): Promise<void>;
}

export interface LimiterServices {
  tenants: TenantSource;
  /** Without it, usage is counted but not written anywhere (benchmarks). */
  usage?: UsageSink;
  tuning?: Partial<LimiterTuning>;
  /**
   * Who may watch a tenant's live traffic (`tenantTraffic`, the dashboard's chart): given the
   * token a connection brings. Without it nobody from outside may.
   */
  canWatch?(token: string | undefined): boolean;
  /** Fault injection for tests: e.g. a shard that stalls before it decides. */
  faults?: { beforeCheck?(tenantId: string, shard: number): Promise<void> | undefined };
}

export interface LimiterTuning {
  shardsPerTenant: number;
  maxKeysPerShard: number;
  snapshotIntervalMs: number;
  idleSweepIntervalMs: number;
  configRefreshMs: number;
  leaseBatch: number;
  usageRollupMs: number;
  usageBucketMs: number;
}

export function tuningOf(services: LimiterServices): LimiterTuning {
  return {
    shardsPerTenant: SHARDS_PER_TENANT,
    maxKeysPerShard: MAX_KEYS_PER_SHARD,
    snapshotIntervalMs: SNAPSHOT_INTERVAL_MS,
    idleSweepIntervalMs: IDLE_SWEEP_INTERVAL_MS,
    configRefreshMs: CONFIG_REFRESH_MS,
    leaseBatch: LEASE_BATCH,
    usageRollupMs: USAGE_ROLLUP_MS,
    usageBucketMs: USAGE_BUCKET_MS,
    ...services.tuning,
  };
}

/** Tenant ids: what may appear in an actor key and in an API key's prefix. */
export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;

/**
 * The limiter's actors are internal: only this process (the middleware, the admin routes, other
 * actors) calls them, in-process and without params, which the runtime trusts. Anything arriving
 * over the registry's HTTP or WebSocket routes is refused here.
 */
export function refuseOutsideCallers(): never {
  throw new Forbidden("The limiter's actors are internal to the server.", {
    code: "internal_actor",
  });
}
