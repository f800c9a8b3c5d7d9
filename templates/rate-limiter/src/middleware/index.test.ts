// The middleware on a Hono app in front of a real limiter (shard and coordinator actors on
// memory storage, tenants in memory). Over real HTTP with SQL: test/api.test.ts.
import { Hono } from "hono";
import { waitFor } from "troupe/test";
import { afterEach, describe, expect, test, vi } from "vitest";
import { createRegistry } from "../actors/index.js";
import { generateApiKey } from "../limiter/api-keys.js";
import { Limiter } from "../limiter/limiter.js";
import { MemoryTenants } from "../limiter/memory-tenants.js";
import { MAX_WINDOW_MS, parseRule, type RuleInput } from "../limiter/rules.js";
import { apiKey, apiKeyRateLimit, type RateLimitEnv, rateLimit } from "./index.js";

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

const quotes = (over: Partial<RuleInput> = {}) =>
  parseRule({
    id: "quotes",
    match: { route: "/v1/quotes", method: "GET" },
    algorithm: "fixed-window",
    limit: 2,
    windowMs: MAX_WINDOW_MS,
    ...over,
  } as RuleInput);

/** A stall that the test releases: the shard waits on it before deciding. */
function stallSwitch() {
  let release: () => void = () => {};
  let stalled: Promise<void> | undefined;
  return {
    on() {
      stalled = new Promise((r) => {
        release = r;
      });
    },
    off() {
      release();
      stalled = undefined;
    },
    get promise() {
      return stalled;
    },
  };
}

/**
 * `pair`: `apiKey()` + `rateLimit()` on `/v1/*`; `merged`: `apiKeyRateLimit()` (the key checked
 * by the shard in the same call, once the limiter knows the key's id).
 */
type Chain = "pair" | "merged";

async function app(rules = [quotes()], budgetMs = 5_000, chain: Chain = "pair") {
  const tenants = new MemoryTenants();
  const good = generateApiKey("acme");
  const revoked = generateApiKey("acme");
  tenants.put({
    tenantId: "acme",
    rules,
    keys: {
      [good.hash]: { keyId: "k1", revoked: false },
      [revoked.hash]: { keyId: "k2", revoked: true },
    },
  });
  const stall = stallSwitch();
  const registry = createRegistry(
    { tenants, faults: { beforeCheck: () => stall.promise } },
    { storage: "memory" },
  );
  open.push(registry);
  const limiter = await Limiter.start(registry);
  const hono = new Hono<RateLimitEnv>();
  if (chain === "pair") hono.use("/v1/*", apiKey({ limiter }), rateLimit({ limiter, budgetMs }));
  else hono.use("/v1/*", apiKeyRateLimit({ limiter, budgetMs }));
  hono.get("/v1/quotes", (c) => c.json({ quote: "ok" }));
  hono.get("/v1/raw", () => new Response("raw"));
  hono.post("/v1/batch", rateLimit({ limiter, cost: 5, rule: "quotes", budgetMs }), (c) =>
    c.json({ done: true }),
  );
  const get = (path: string, key = good.key) =>
    hono.request(path, { headers: { authorization: `Bearer ${key}` } });
  /**
   * Wakes the tenant's actors and makes its key known to the limiter without a request, whose
   * 20 ms budget a cold start can miss on a busy machine.
   */
  const warm = async () => {
    await limiter.warm("acme");
    expect(await limiter.authenticate(good.key)).toMatchObject({ ok: true });
  };
  return { hono, get, good, revoked, stall, limiter, tenants, rules, warm };
}

describe.each<Chain>(["pair", "merged"])("rateLimit() (%s)", (chain) => {
  test("allowed responses carry RateLimit-Policy and RateLimit; the refusal is a 429", async () => {
    const { get } = await app(undefined, undefined, chain);
    const first = await get("/v1/quotes");
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit-policy")).toBe(`"quotes";q=2;w=${MAX_WINDOW_MS / 1000}`);
    expect(first.headers.get("ratelimit")).toMatch(/^"quotes";r=1;t=\d+$/);
    expect((await get("/v1/quotes")).headers.get("ratelimit")).toMatch(/^"quotes";r=0;t=\d+$/);
    const refused = await get("/v1/quotes");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get("ratelimit")).toMatch(/^"quotes";r=0;t=\d+$/);
    expect(await refused.json()).toMatchObject({ code: "rate_limited", reason: "rate_limited" });
  });

  test("a route without a rule passes without headers; a handler's own Response keeps them", async () => {
    const { get } = await app(
      [quotes({ match: { route: "/v1/raw", method: "GET" } })],
      undefined,
      chain,
    );
    const free = await get("/v1/quotes");
    expect(free.status).toBe(200);
    expect(free.headers.get("ratelimit")).toBeNull();
    const raw = await get("/v1/raw");
    expect(await raw.text()).toBe("raw");
    expect(raw.headers.get("ratelimit")).toMatch(/^"quotes";r=1;/);
  });

  test("a cost above the rule's capacity is a 400 with its own code", async () => {
    const { hono, good } = await app(undefined, undefined, chain);
    const res = await hono.request("/v1/batch", {
      method: "POST",
      headers: { "x-api-key": good.key },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "cost_exceeds_limit" });
  });

  test("401 with a distinct code for missing, malformed, unknown and revoked keys", async () => {
    const { hono, get, good, revoked } = await app(undefined, undefined, chain);
    // Known to the limiter (merged: the shard checks it from now on).
    expect((await get("/v1/quotes")).status).toBe(200);
    const codeOf = async (res: Response) => [
      res.status,
      ((await res.json()) as { code: string }).code,
    ];
    expect(await codeOf(await hono.request("/v1/quotes"))).toEqual([401, "missing_api_key"]);
    expect(await codeOf(await get("/v1/quotes", "hunter2"))).toEqual([401, "malformed_api_key"]);
    expect(await codeOf(await get("/v1/quotes", generateApiKey("acme").key))).toEqual([
      401,
      "unknown_api_key",
    ]);
    expect(await codeOf(await get("/v1/quotes", generateApiKey("ghost").key))).toEqual([
      401,
      "unknown_api_key",
    ]);
    expect(await codeOf(await get("/v1/quotes", revoked.key))).toEqual([401, "revoked_api_key"]);
    // A known key of the tenant sent as another tenant's is no key of that tenant.
    const otherTenant = good.key.replace("rl_acme_", "rl_ghost_");
    expect(await codeOf(await get("/v1/quotes", otherTenant))).toEqual([401, "unknown_api_key"]);
  });

  test("a stalled shard: fail open lets the request through before the shard answers", async () => {
    const { get, stall, warm } = await app([quotes({ failMode: "open" })], 20, chain);
    await warm();
    stall.on();
    let shardAnswered = false;
    void stall.promise?.then(() => {
      shardAnswered = true;
    });
    const res = await get("/v1/quotes");
    expect(shardAnswered).toBe(false); // the answer came from the budget, not the shard
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit")).toBeNull(); // nothing was decided
    stall.off();
  });

  test("a stalled shard: fail closed answers 503 before the shard answers", async () => {
    const { get, stall, warm } = await app([quotes({ failMode: "closed" })], 20, chain);
    await warm();
    stall.on();
    let shardAnswered = false;
    void stall.promise?.then(() => {
      shardAnswered = true;
    });
    const res = await get("/v1/quotes");
    expect(shardAnswered).toBe(false); // the answer came from the budget, not the shard
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toMatchObject({ code: "limiter_unavailable" });
    stall.off();
  });

  test("a stalled shard: each request of overlapping bursts, and one after them, gets its budget's answer", async () => {
    const { get, stall, warm } = await app([quotes({ failMode: "closed" })], 20, chain);
    await warm();
    stall.on();
    let shardAnswered = false;
    void stall.promise?.then(() => {
      shardAnswered = true;
    });
    const first = Array.from({ length: 10 }, () => get("/v1/quotes"));
    await new Promise((r) => setTimeout(r, 5));
    const second = Array.from({ length: 10 }, () => get("/v1/quotes"));
    const statuses = (await Promise.all([...first, ...second])).map((r) => r.status);
    expect(statuses).toEqual(Array(20).fill(503));
    // The deadlines' timer is set again for a request after all the others were answered.
    expect((await get("/v1/quotes")).status).toBe(503);
    expect(shardAnswered).toBe(false);
    stall.off();
  });
});

describe("apiKeyRateLimit()", () => {
  test("once the key is known, the coordinator is not asked again: one actor call per request", async () => {
    const { get, limiter } = await app(undefined, undefined, "merged");
    const asked = vi.spyOn(limiter, "authenticateParsed");
    const checks = vi.spyOn(limiter, "check");
    expect((await get("/v1/quotes")).status).toBe(200);
    expect((await get("/v1/quotes")).headers.get("ratelimit")).toMatch(/^"quotes";r=0;/);
    expect((await get("/v1/quotes")).status).toBe(429);
    expect(asked).toHaveBeenCalledTimes(1);
    expect(checks).toHaveBeenCalledTimes(3);
    expect(checks.mock.calls.slice(1).every(([, req]) => req.keyHash !== undefined)).toBe(true);
  });

  test("a key revoked after it became known is refused by its shard, and nothing is counted", async () => {
    const { get, good, limiter, tenants, rules } = await app(
      [quotes({ limit: 10 })],
      undefined,
      "merged",
    );
    expect((await get("/v1/quotes")).headers.get("ratelimit")).toMatch(/^"quotes";r=9;/);
    tenants.put({
      tenantId: "acme",
      rules,
      keys: { [good.hash]: { keyId: "k1", revoked: true } },
    });
    await limiter.reload("acme"); // as the admin route does after revoking
    const asked = vi.spyOn(limiter, "authenticateParsed");
    const res = await get("/v1/quotes");
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "revoked_api_key" });
    expect(asked).not.toHaveBeenCalled(); // the shard refused it, in the one call
    // The refusal spent nothing: the counter is where the allowed request left it.
    const v = await limiter.check("acme", { key: "k1", method: "GET", path: "/v1/quotes" });
    expect(v.policy?.remaining).toBe(8);
  });

  test("a revocation in the tenant source alone reaches the shard with the coordinator's refresh", async () => {
    const tenants = new MemoryTenants();
    const good = generateApiKey("acme");
    const rules = [quotes({ limit: 1000 })];
    tenants.put({
      tenantId: "acme",
      rules,
      keys: { [good.hash]: { keyId: "k1", revoked: false } },
    });
    const registry = createRegistry(
      { tenants, tuning: { configRefreshMs: 100 } },
      { storage: "memory" },
    );
    open.push(registry);
    const limiter = await Limiter.start(registry);
    const hono = new Hono<RateLimitEnv>();
    hono.use("/v1/*", apiKeyRateLimit({ limiter, budgetMs: 5_000 }));
    hono.get("/v1/quotes", (c) => c.json({ quote: "ok" }));
    const get = () => hono.request("/v1/quotes", { headers: { "x-api-key": good.key } });
    expect((await get()).status).toBe(200);
    expect((await get()).status).toBe(200);
    tenants.put({ tenantId: "acme", rules, keys: { [good.hash]: { keyId: "k1", revoked: true } } });
    // No reload: the coordinator's periodic refresh notices and pushes to the shards. How long
    // it takes is not asserted (a busy machine); the wait fails only if it never arrives.
    const status = await waitFor(
      async () => {
        const res = await get();
        return res.status === 200 ? undefined : res.status;
      },
      { timeout: 5000, what: "the revocation to reach the shard" },
    );
    expect(status).toBe(401);
  });

  test("a stalled shard: a known key is checked by the coordinator before failing open, so a revoked one never gets through", async () => {
    const { get, good, limiter, tenants, rules, stall, warm } = await app(
      [quotes({ failMode: "open", limit: 10 })],
      20,
      "merged",
    );
    await warm(); // the key is known from here on
    stall.on();
    expect((await get("/v1/quotes")).status).toBe(200); // fail open, after the coordinator's check
    tenants.put({
      tenantId: "acme",
      rules,
      keys: { [good.hash]: { keyId: "k1", revoked: true } },
    });
    // The coordinator has the revocation; the stalled shards get it once they answer again.
    await limiter.reload("acme");
    const res = await get("/v1/quotes");
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "revoked_api_key" });
    stall.off();
  });

  test("a key its shard does not know yet (the push still on its way) is checked with the coordinator", async () => {
    const { get, limiter } = await app(undefined, undefined, "merged");
    expect((await get("/v1/quotes")).status).toBe(200);
    // The shard's copy of the keys without this key, as if the push adding it had not arrived.
    const config = await limiter.tenant("acme").configFor();
    const shard = limiter.shardFor("k1");
    await limiter.shard("acme", shard).configure({ ...config, keys: {}, version: 1000 });
    const asked = vi.spyOn(limiter, "authenticateParsed");
    const res = await get("/v1/quotes");
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit")).toMatch(/^"quotes";r=0;/); // decided and counted once
    expect(asked).toHaveBeenCalledTimes(1);
  });
});
