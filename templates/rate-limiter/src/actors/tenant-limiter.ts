/**
 * `tenantLimiter [tenantId]`: the tenant's coordinator. It holds the tenant's configuration (plan,
 * rules, API key hashes) loaded from the `TenantSource` (SQL), answers API key checks from that
 * cache, hands the configuration to the tenant's shards and pushes every change to them, and
 * keeps the tenant's aggregate limit by leasing token batches to the shards.
 *
 * Freshness: `reload()` (called by the admin routes after a change is committed) re-reads the
 * tenant and pushes it to every shard before it returns; besides, the coordinator re-reads the
 * tenant every `configRefreshMs` while awake, so a change made elsewhere (another process, SQL by
 * hand) reaches the shards within that interval plus one push. A push that failed is made again
 * at the next refresh: the shards check API keys too (a revocation must reach them).
 *
 * Aggregate bound: the coordinator counts every token it grants, in its durable state, before
 * the grant is answered, and a shard admits a request only by spending a granted token of the
 * current window. So across all shards at most `limit` requests are admitted per window: no
 * over-admission, also across crashes of either side. The price is under-admission: tokens
 * leased to a shard that then sees no traffic stay unused, at most `leaseBatch` per other shard
 * per window (and what a crashed shard held).
 */
import { actor, UserError } from "troupe";
import type { Rule } from "../limiter/rules.js";
import {
  LIMITER_SLEEP_TIMEOUT_MS,
  type LimiterServices,
  type LimiterTuning,
  refuseOutsideCallers,
  TENANT_ID,
  type TenantConfig,
} from "./services.js";

export interface TenantLimiterState {
  tenantId: string;
  /** The aggregate window being granted and how much of it is granted. */
  leaseWindow: number;
  granted: number;
}

export interface TenantLimiterVars {
  config: TenantConfig | undefined;
  /**
   * The version every shard was last pushed (0: none yet). The shards check API keys too, so a
   * push that failed is retried at the next refresh even if nothing changed since.
   */
  pushed: number;
  timer: ReturnType<typeof setInterval> | undefined;
}

export type KeyCheck =
  /**
   * `failClosed`: the rules that fail closed, so the middleware knows what to do when a shard
   * does not answer (the others fail open). Only those travel: this answer is on every request.
   */
  | { ok: true; tenantId: string; keyId: string; failClosed: Pick<Rule, "id" | "match">[] }
  | { ok: false; code: "unknown_api_key" | "revoked_api_key" };

export function createTenantLimiter(services: LimiterServices, tuning: LimiterTuning) {
  const unknownTenant = () => new UserError("There is no such tenant.", { code: "unknown_tenant" });

  async function load(tenantId: string): Promise<TenantConfig | undefined> {
    return services.tenants.load(tenantId);
  }

  return actor({
    onBeforeCreate: refuseOutsideCallers,
    onBeforeConnect: refuseOutsideCallers,
    // Only tenants that exist get a coordinator: a key naming another tenant creates nothing.
    createState: async (c: { key: readonly string[] }): Promise<TenantLimiterState> => {
      const [tenantId] = c.key;
      if (c.key.length !== 1 || !tenantId || !TENANT_ID.test(tenantId)) throw unknownTenant();
      if (!(await load(tenantId))) throw unknownTenant();
      return { tenantId, leaseWindow: 0, granted: 0 };
    },
    createVars: (): TenantLimiterVars => ({ config: undefined, pushed: 0, timer: undefined }),
    options: { sleepTimeout: LIMITER_SLEEP_TIMEOUT_MS },

    onWake: async (c) => {
      c.vars.config = await load(c.state.tenantId);
      c.vars.timer = setInterval(() => {
        refresh(c).catch((error) => c.log.warn("tenant refresh failed", { error }));
      }, tuning.configRefreshMs);
      // A tenant waking up is about to be used: wake its shards too (after this wake ends, as
      // they ask this coordinator for their configuration), so that its first decisions do not
      // spend their time budget on a cold start.
      const config = c.vars.config;
      if (config) {
        setTimeout(() => {
          // Best effort: a shard that does not wake now wakes on its first request.
          pushToShards(c, config).catch(() => {});
        }, 0);
      }
    },
    onSleep: (c) => {
      clearInterval(c.vars.timer);
    },

    actions: {
      /** The configuration a shard starts with. */
      configFor: (c): TenantConfig => {
        if (!c.vars.config) throw unknownTenant();
        return c.vars.config;
      },

      /** Checks several keys at once (concurrent requests, batched by the `Limiter`). */
      authenticateMany: (c, keyHashes: string[]): KeyCheck[] =>
        keyHashes.map((h) => checkKey(c.vars.config, h)),

      /** Checks an API key by the SHA-256 of the whole key (hex). */
      authenticate: (c, keyHash: string): KeyCheck => checkKey(c.vars.config, keyHash),

      /**
       * Grants tokens of the aggregate window starting at `window`: at least `atLeast` if that
       * many are left, otherwise what is left (0 when the window is spent or already over).
       */
      lease: (c, window: number, atLeast: number): { window: number; tokens: number } => {
        const aggregate = c.vars.config?.aggregate;
        if (!aggregate) return { window, tokens: 0 };
        if (window < c.state.leaseWindow) return { window, tokens: 0 };
        if (window > c.state.leaseWindow) {
          c.state.leaseWindow = window;
          c.state.granted = 0;
        }
        const left = aggregate.limit - c.state.granted;
        const tokens = Math.max(0, Math.min(left, Math.max(atLeast, tuning.leaseBatch)));
        c.state.granted += tokens;
        return { window, tokens };
      },

      /** Re-reads the tenant and pushes it to every shard; resolves once they all have it. */
      reload: async (c): Promise<number> => {
        await refresh(c, true);
        return c.vars.config?.version ?? 0;
      },
    },
  });

  function checkKey(config: TenantConfig | undefined, keyHash: string): KeyCheck {
    const record = config?.keys[keyHash];
    if (!config || !record || !Object.hasOwn(config.keys, keyHash)) {
      return { ok: false, code: "unknown_api_key" };
    }
    if (record.revoked) return { ok: false, code: "revoked_api_key" };
    return {
      ok: true,
      tenantId: config.tenantId,
      keyId: record.keyId,
      failClosed: config.rules
        .filter((r) => r.failMode === "closed")
        .map((r) => ({ id: r.id, match: r.match })),
    };
  }

  async function refresh(
    c: {
      state: TenantLimiterState;
      vars: TenantLimiterVars;
      client(): any;
    },
    force = false,
  ): Promise<void> {
    if (!force && c.vars.config && services.tenants.version) {
      // The periodic refresh of every awake tenant: one small query unless something changed.
      const version = await services.tenants.version(c.state.tenantId);
      if (version === c.vars.config.version && version === c.vars.pushed) return;
    }
    const next = await load(c.state.tenantId);
    if (!next) {
      c.vars.config = undefined;
      return;
    }
    c.vars.config = next;
    if (next.version === c.vars.pushed && !force) return;
    await pushToShards(c, next);
  }

  async function pushToShards(
    c: { state: TenantLimiterState; vars: TenantLimiterVars; client(): any },
    config: TenantConfig,
  ) {
    const client = c.client();
    await Promise.all(
      Array.from({ length: tuning.shardsPerTenant }, (_, shard) =>
        client.limiterShard.getOrCreate([c.state.tenantId, String(shard)]).configure(config),
      ),
    );
    c.vars.pushed = Math.max(c.vars.pushed, config.version);
  }
}
