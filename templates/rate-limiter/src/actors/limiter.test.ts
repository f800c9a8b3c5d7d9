// The shard and coordinator actors in-process (memory storage, an in-memory tenant source):
// exactness under concurrency, the aggregate bound, bounded memory, live configuration and
// API key checks. The same paths over real HTTP and SQL are in test/.
import { afterEach, describe, expect, test } from "vitest";
import { generateApiKey } from "../limiter/api-keys.js";
import { Limiter } from "../limiter/limiter.js";
import { MemoryTenants } from "../limiter/memory-tenants.js";
import { MAX_WINDOW_MS, parseRule } from "../limiter/rules.js";
import { createRegistry, type LimiterServices } from "./index.js";

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

async function start(tenants: MemoryTenants, extra: Partial<LimiterServices> = {}) {
  const registry = createRegistry({ tenants, ...extra }, { storage: "memory" });
  open.push(registry);
  return Limiter.start(registry);
}

// A week-long window (aligned to the epoch): a test never straddles a boundary in practice.
const LONG = MAX_WINDOW_MS;
const perKey = (limit: number, windowMs = LONG) =>
  parseRule({
    id: "per-key",
    match: { route: "/v1/*", method: "GET" },
    algorithm: "fixed-window",
    limit,
    windowMs,
  });

/** Runs `total` checks from `callers` concurrent loops; returns how many were allowed. */
async function hammer(
  limiter: Limiter,
  tenantId: string,
  callers: number,
  total: number,
  keyOf: (i: number) => string,
) {
  let next = 0;
  let allowed = 0;
  const codes = new Map<string, number>();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < total) {
        const i = next++;
        const v = await limiter.check(tenantId, {
          key: keyOf(i),
          method: "GET",
          path: "/v1/quotes",
        });
        if (v.allowed) allowed += 1;
        else codes.set(v.code!, (codes.get(v.code!) ?? 0) + 1);
      }
    }),
  );
  return { allowed, codes };
}

describe("limiter shards", () => {
  test("32 concurrent callers on one key against 100 per window: exactly 100 allowed", async () => {
    const tenants = new MemoryTenants();
    tenants.put({ tenantId: "acme", rules: [perKey(100)] });
    const limiter = await start(tenants);
    const { allowed, codes } = await hammer(limiter, "acme", 32, 1000, () => "key-1");
    expect(allowed).toBe(100);
    expect(codes.get("rate_limited")).toBe(900);
  });

  test("keys spread over the shards and each keeps its own exact limit", async () => {
    const tenants = new MemoryTenants();
    tenants.put({ tenantId: "acme", rules: [perKey(5)] });
    const limiter = await start(tenants);
    const { allowed } = await hammer(limiter, "acme", 32, 50 * 10, (i) => `key-${i % 50}`);
    expect(allowed).toBe(50 * 5);
    const used = new Set(Array.from({ length: 50 }, (_, i) => limiter.shardFor(`key-${i}`)));
    expect(used.size).toBe(limiter.shardsPerTenant);
  });

  test("the tenant aggregate is never exceeded, and under-admits at most (S-1) leases", async () => {
    const tenants = new MemoryTenants();
    const aggregate = { limit: 500, windowMs: LONG };
    tenants.put({ tenantId: "acme", rules: [perKey(1_000)], aggregate });
    const limiter = await start(tenants, { tuning: { leaseBatch: 20 } });
    const { allowed, codes } = await hammer(limiter, "acme", 32, 2000, (i) => `key-${i % 300}`);
    expect(allowed).toBeLessThanOrEqual(500);
    expect(allowed).toBeGreaterThanOrEqual(500 - (limiter.shardsPerTenant - 1) * 20);
    expect(codes.get("tenant_limit_reached")).toBe(2000 - allowed);
  });

  test("a flood of new keys keeps each shard under its cap", async () => {
    const tenants = new MemoryTenants();
    tenants.put({ tenantId: "acme", rules: [perKey(10)] });
    const limiter = await start(tenants, { tuning: { maxKeysPerShard: 50, shardsPerTenant: 2 } });
    await hammer(limiter, "acme", 8, 2000, (i) => `flood-${i}`);
    for (const s of [0, 1]) {
      const stats = await limiter.shard("acme", s).stats();
      expect(stats.keys).toBeLessThanOrEqual(50);
      // Every flooded key was busy (one request in an hour-long window): evicted, and counted.
      expect(stats.evictedBusy).toBeGreaterThan(0);
    }
  });

  test("a key in steady use keeps its counter through a flood of one-off keys", async () => {
    const tenants = new MemoryTenants();
    tenants.put({ tenantId: "acme", rules: [perKey(1000)] });
    const limiter = await start(tenants, { tuning: { maxKeysPerShard: 20, shardsPerTenant: 1 } });
    // One request of the steady key for every 5 new keys: it is always used again before the
    // eviction sweep comes round to it (20 counters), the one-off keys never are.
    const { allowed } = await hammer(limiter, "acme", 1, 600, (i) =>
      i % 6 === 0 ? "steady" : `flood-${i}`,
    );
    expect(allowed).toBe(600);
    const stats = await limiter.shard("acme", 0).stats();
    expect(stats.keys).toBeLessThanOrEqual(20);
    expect(stats.evictedBusy).toBeGreaterThan(400);
    // Its 100 requests are all still counted: the counter was never evicted and started afresh.
    const v = await limiter.check("acme", { key: "steady", method: "GET", path: "/v1/quotes" });
    expect(v.policy?.remaining).toBe(1000 - 101);
  });

  test("a rule change reaches the running shards when the coordinator reloads", async () => {
    const tenants = new MemoryTenants();
    tenants.put({ tenantId: "acme", rules: [perKey(3)] });
    const limiter = await start(tenants);
    const { allowed } = await hammer(limiter, "acme", 4, 10, () => "k");
    expect(allowed).toBe(3);
    tenants.put({ tenantId: "acme", rules: [perKey(6)] });
    await limiter.reload("acme");
    const after = await hammer(limiter, "acme", 4, 10, () => "k");
    expect(after.allowed).toBe(3);
  });

  test("a cost above the rule's capacity is refused with its own code", async () => {
    const tenants = new MemoryTenants();
    tenants.put({ tenantId: "acme", rules: [perKey(10)] });
    const limiter = await start(tenants);
    const v = await limiter.check("acme", { key: "k", method: "GET", path: "/v1/x", cost: 11 });
    expect(v).toMatchObject({ allowed: false, code: "cost_exceeds_limit" });
    const ok = await limiter.check("acme", { key: "k", method: "GET", path: "/v1/x", cost: 10 });
    expect(ok).toMatchObject({ allowed: true, policy: { id: "per-key", remaining: 0, limit: 10 } });
  });

  test("API keys: valid, revoked, unknown, malformed, missing, other tenant", async () => {
    const tenants = new MemoryTenants();
    const good = generateApiKey("acme");
    const revoked = generateApiKey("acme");
    const stranger = generateApiKey("nobody");
    tenants.put({
      tenantId: "acme",
      rules: [perKey(10)],
      keys: {
        [good.hash]: { keyId: "key-good", revoked: false },
        [revoked.hash]: { keyId: "key-revoked", revoked: true },
      },
    });
    const limiter = await start(tenants);
    expect(await limiter.authenticate(good.key)).toMatchObject({ ok: true, keyId: "key-good" });
    expect(await limiter.authenticate(revoked.key)).toEqual({ ok: false, code: "revoked_api_key" });
    expect(await limiter.authenticate(generateApiKey("acme").key)).toEqual({
      ok: false,
      code: "unknown_api_key",
    });
    expect(await limiter.authenticate(stranger.key)).toEqual({
      ok: false,
      code: "unknown_api_key",
    });
    expect(await limiter.authenticate("rl_acme_short")).toEqual({
      ok: false,
      code: "malformed_api_key",
    });
    expect(await limiter.authenticate(undefined)).toEqual({ ok: false, code: "missing_api_key" });
    // A key whose hash is an inherited property name is not a key.
    expect(await limiter.tenant("acme").authenticate("__proto__")).toEqual({
      ok: false,
      code: "unknown_api_key",
    });
  });
});

describe("unknown tenants", () => {
  test("a check for a tenant that does not exist fails and creates no actor", async () => {
    const tenants = new MemoryTenants();
    tenants.put({ tenantId: "acme", rules: [perKey(10)] });
    const registry = createRegistry({ tenants }, { storage: "memory" });
    open.push(registry);
    const limiter = await Limiter.start(registry);
    await expect(
      limiter.check("ghost", { key: "k", method: "GET", path: "/v1/x" }),
    ).rejects.toMatchObject({ code: "unknown_tenant" });
    const { engine } = await registry.ensureRuntime();
    for (let s = 0; s < limiter.shardsPerTenant; s++) {
      expect(await engine.findByKey("limiterShard", ["ghost", String(s)])).toBeUndefined();
    }
    expect(await engine.findByKey("tenantLimiter", ["ghost"])).toBeUndefined();
  });
});
