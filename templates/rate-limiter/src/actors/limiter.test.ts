// The shard and coordinator actors in-process (memory storage, an in-memory tenant source):
// exactness under concurrency, the aggregate bound, bounded memory, live configuration and
// API key checks. The same paths over real HTTP and SQL are in test/.
import { waitFor } from "troupe/test";
import { afterEach, describe, expect, test, vi } from "vitest";
import { generateApiKey } from "../limiter/api-keys.js";
import { Limiter } from "../limiter/limiter.js";
import { MemoryTenants } from "../limiter/memory-tenants.js";
import { MAX_WINDOW_MS, parseRule } from "../limiter/rules.js";
import type { Verdict } from "../limiter/verdict.js";
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

  test("the idle sweep drops counters back to their initial value and keeps one in use", async () => {
    const tenants = new MemoryTenants();
    // One token per key, back after 1000 s: a counter is busy for that long after a request.
    const bucket = parseRule({
      id: "per-key",
      match: { route: "/v1/*", method: "GET" },
      algorithm: "token-bucket",
      rate: 0.001,
      burst: 1,
    });
    tenants.put({ tenantId: "acme", rules: [bucket] });
    const limiter = await start(tenants, {
      tuning: { idleSweepIntervalMs: 50, shardsPerTenant: 1 },
    });
    const check = (key: string) =>
      limiter.check("acme", { key, method: "GET", path: "/v1/quotes" });
    const stats = () => limiter.shard("acme", 0).stats();
    // The shard's clock, moved forward by the test; time flows as usual otherwise.
    const realNow = Date.now.bind(Date);
    let ahead = 0;
    const now = vi.spyOn(Date, "now").mockImplementation(() => realNow() + ahead);
    try {
      const { allowed } = await hammer(limiter, "acme", 8, 51, (i) =>
        i === 0 ? "steady" : `one-off-${i}`,
      );
      expect(allowed).toBe(51);
      // Sweeps run every 50 ms, but no counter can be idle for the next 1000 s.
      expect((await stats()).keys).toBe(51);

      // 2000 s later every bucket is full again; the steady key is used once more.
      ahead = 2_000_000;
      expect((await check("steady")).allowed).toBe(true);
      const after = await waitFor(
        async () => {
          const s = await stats();
          return s.keys === 1 ? s : undefined;
        },
        { what: "the idle sweep to drop the 50 one-off keys" },
      );
      // Dropped as idle (nothing lost), not evicted while busy.
      expect(after.evictedBusy).toBe(0);
      // The counter in use stayed: its token is spent, so the next request is refused.
      expect(await check("steady")).toMatchObject({ allowed: false, code: "rate_limited" });
      // A dropped key starts afresh, as it would have anyway: its bucket was full.
      expect((await check("one-off-7")).allowed).toBe(true);
    } finally {
      now.mockRestore();
    }
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

/**
 * Windows one after another under 32 concurrent callers, on a clock the test moves: the shards
 * read `Date.now()`, which steps by `STEP_MS` after every `STEP_EVERY` answers, so the callers
 * run straight through window boundaries, and how fast the machine is decides nothing. Each
 * allowed verdict says in which window (and which step of it) it was decided: its `RateLimit`
 * reset time (whole seconds: 4, 3, 2, 1 for the four steps of a fixed window of 4 s; 8, 7, 6, 5
 * for a sliding one, whose counter lasts two windows) names the step, and the clock's values
 * while the request was in flight (less than a window apart) name the window.
 */
describe("exact per window, across windows", () => {
  const WINDOW_MS = 4000;
  const STEP_MS = 1000;
  const STEPS = WINDOW_MS / STEP_MS;
  const WINDOWS = 4;
  /**
   * Answers between two steps. A request is answered within two batches of at most 32 (one call
   * in flight per shard), so more than 100 are decided at each clock value (every step fills
   * what the rule allows) and no request is in flight across two steps.
   */
  const STEP_EVERY = 200;
  const LIMIT = 100;

  interface Seen {
    verdict: Verdict;
    /** The clock when the request was sent and when its answer came. */
    sent: number;
    answered: number;
  }

  /** 32 callers on one key until the clock has gone through `WINDOWS` windows. */
  async function acrossWindows(algorithm: "fixed-window" | "sliding-window") {
    const tenants = new MemoryTenants();
    const rule = parseRule({
      id: "per-key",
      match: { route: "/v1/*", method: "GET" },
      algorithm,
      limit: LIMIT,
      windowMs: WINDOW_MS,
    });
    tenants.put({ tenantId: "acme", rules: [rule] });
    const limiter = await start(tenants);
    await limiter.warm("acme");
    // One millisecond into a window, a little ahead of the real time.
    const start0 = (Math.floor(Date.now() / WINDOW_MS) + 1) * WINDOW_MS;
    let clock = start0 + 1;
    const end = start0 + WINDOWS * WINDOW_MS;
    const seen: Seen[] = [];
    const now = vi.spyOn(Date, "now").mockImplementation(() => clock);
    try {
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (clock < end) {
            const sent = clock;
            const verdict = await limiter.check("acme", {
              key: "key-1",
              method: "GET",
              path: "/v1/quotes",
            });
            seen.push({ verdict, sent, answered: clock });
            if (seen.length % STEP_EVERY === 0) clock += STEP_MS;
          }
        }),
      );
    } finally {
      now.mockRestore();
    }
    return { seen, start0, resetOffset: algorithm === "fixed-window" ? 0 : STEPS };
  }

  /** Window and step (0-based) in which an allowed verdict was decided. */
  function decidedAt(s: Seen, start0: number, resetOffset: number) {
    const step = STEPS + resetOffset - s.verdict.policy!.resetSeconds;
    expect(step).toBeGreaterThanOrEqual(0);
    expect(step).toBeLessThan(STEPS);
    // The clock values the shard may have read: start0 + 1 + k × STEP_MS, between sent and
    // answered; exactly one of them is in that step of its window.
    const first = (s.sent - start0 - 1) / STEP_MS;
    const last = (s.answered - start0 - 1) / STEP_MS;
    expect(last - first).toBeLessThan(STEPS);
    const candidates: number[] = [];
    for (let k = first; k <= last; k++) if (k % STEPS === step) candidates.push(k);
    expect(candidates).toHaveLength(1);
    return { window: Math.floor(candidates[0]! / STEPS), step };
  }

  test("fixed window: exactly 100 allowed in each window, counted in order", async () => {
    const { seen, start0, resetOffset } = await acrossWindows("fixed-window");
    const remaining = Array.from({ length: WINDOWS }, () => [] as number[]);
    for (const s of seen) {
      if (!s.verdict.allowed) {
        expect(s.verdict.code).toBe("rate_limited");
        continue;
      }
      const { window } = decidedAt(s, start0, resetOffset);
      if (window === WINDOWS) continue; // the last step's stragglers, in a window not run
      remaining[window]!.push(s.verdict.policy!.remaining);
    }
    for (const [w, left] of remaining.entries()) {
      expect(left.length, `allowed in window ${w}`).toBe(LIMIT);
      // Each of the window's 100 answers said a different count left: 99 down to 0.
      expect([...left].sort((a, b) => b - a)).toEqual(
        Array.from({ length: LIMIT }, (_, i) => LIMIT - 1 - i),
      );
    }
  });

  test("sliding window: each step allows exactly what the weighted count leaves", async () => {
    const { seen, start0, resetOffset } = await acrossWindows("sliding-window");
    const allowed = Array.from({ length: WINDOWS }, () => new Array<number>(STEPS).fill(0));
    for (const s of seen) {
      if (!s.verdict.allowed) continue;
      const { window, step } = decidedAt(s, start0, resetOffset);
      if (window === WINDOWS) continue; // the last step's stragglers, in a window not run
      allowed[window]![step]! += 1;
    }
    // The two-window weighted counter: the previous window's count × the part of it still inside
    // the sliding window, plus this window's count, never above the limit; and since every step
    // has more requests than that leaves room for, it is filled exactly.
    let previous = 0;
    for (let w = 0; w < WINDOWS; w++) {
      let current = 0;
      for (let step = 0; step < STEPS; step++) {
        const overlap = 1 - (step * STEP_MS + 1) / WINDOW_MS;
        let room = 0;
        while (previous * overlap + current + room + 1 <= LIMIT) room += 1;
        expect(allowed[w]![step], `allowed in window ${w}, step ${step}`).toBe(room);
        current += room;
      }
      previous = current;
    }
    // Not a constant 100 per window: the weighting carries part of one window into the next.
    expect(allowed.map((steps) => steps.reduce((a, b) => a + b))).toEqual([100, 75, 81, 79]);
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
