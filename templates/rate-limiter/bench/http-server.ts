// The HTTP bench's server (a child process, so autocannon does not share its event loop): the
// same JSON route on three ports, bare, behind apiKey() + rateLimit() and behind
// apiKeyRateLimit(), with a rule whose limit is never reached (every request is decided and
// allowed: the cost of deciding, not of refusing). Actor state on the file driver. Prints
// {"bare":port,"pair":port,"merged":port,"key":"…","dir":"…"}.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createRegistry } from "../src/actors/index.js";
import { generateApiKey } from "../src/limiter/api-keys.js";
import { Limiter } from "../src/limiter/limiter.js";
import { MemoryTenants } from "../src/limiter/memory-tenants.js";
import { MAX_WINDOW_MS, parseRule } from "../src/limiter/rules.js";
import { apiKey, apiKeyRateLimit, type RateLimitEnv, rateLimit } from "../src/middleware/index.js";

const tenants = new MemoryTenants();
const key = generateApiKey("bench");
tenants.put({
  tenantId: "bench",
  rules: [
    parseRule({
      id: "quotes",
      match: { route: "/v1/quotes", method: "GET" },
      algorithm: "sliding-window",
      limit: 1_000_000_000,
      windowMs: MAX_WINDOW_MS,
    }),
  ],
  keys: { [key.hash]: { keyId: "key-1", revoked: false } },
});
const dir = await mkdtemp(join(tmpdir(), "rate-limiter-bench-"));
const registry = createRegistry({ tenants }, { storage: { driver: "file", path: dir } });
// As the app's server (src/server.ts) runs it.
const limiter = await Limiter.start(registry, { gather: "turn" });

const quote = { id: 1, text: "Make it work, make it right, make it fast.", by: "Kent Beck" };
const bare = new Hono();
bare.get("/v1/quotes", (c) => c.json(quote));
// A budget no answer misses: every request is decided (none let through by fail-open).
// The two steps (a key check on the coordinator, then a decision on the shard) ...
const pair = new Hono<RateLimitEnv>();
pair.use("/v1/*", apiKey({ limiter, budgetMs: 10_000 }), rateLimit({ limiter, budgetMs: 10_000 }));
pair.get("/v1/quotes", (c) => c.json(quote));
// ... and both in one call on the shard, as the app (src/app.ts) runs it.
const merged = new Hono<RateLimitEnv>();
merged.use("/v1/*", apiKeyRateLimit({ limiter, budgetMs: 10_000, authBudgetMs: 10_000 }));
merged.get("/v1/quotes", (c) => c.json(quote));

const listen = (app: { fetch: (r: Request) => Response | Promise<Response> }) =>
  new Promise<number>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
      resolve(info.port),
    );
    void s;
  });
const ports = {
  bare: await listen(bare),
  pair: await listen(pair),
  merged: await listen(merged),
  key: key.key,
  dir,
};
process.stdout.write(`${JSON.stringify(ports)}\n`);
