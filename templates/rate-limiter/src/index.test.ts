// The package as another Hono app uses it: imported by the package's own name (Node resolves it
// through package.json's "exports"), the limiter built from what that entry exports, with limits
// held in memory, in front of a small app of its own. The name is read from package.json, so the
// test holds in an app made with create-app too, whose package has the app's name.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Hono } from "hono";
import { afterEach, expect, test } from "vitest";

type PublicEntry = typeof import("./index.js");

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

async function byOwnName(): Promise<{ name: string; entry: PublicEntry }> {
  const pkg = JSON.parse(await readFile(join(import.meta.dirname, "../package.json"), "utf8"));
  expect(pkg.exports["."]).toBe("./src/index.ts");
  const name = pkg.name as string;
  return { name, entry: (await import(/* @vite-ignore */ name)) as PublicEntry };
}

test("another Hono app: rateLimit() from the package's own name, limits in memory", async () => {
  const { entry } = await byOwnName();
  const { createRegistry, Limiter, MemoryTenants, parseRule, rateLimit } = entry;

  const tenants = new MemoryTenants();
  tenants.put({
    tenantId: "public",
    rules: [
      parseRule({
        id: "search",
        match: { route: "/search", method: "GET" },
        algorithm: "fixed-window",
        limit: 2,
        windowMs: 60 * 60 * 1000,
      }),
    ],
  });
  const registry = createRegistry({ tenants }, { storage: "memory" });
  open.push(registry);
  const limiter = await Limiter.start(registry);
  // Wakes the tenant's shards, so the first request does not spend its budget on a cold start.
  await limiter.warm("public");

  const app = new Hono();
  app.use(
    "/search",
    rateLimit({
      limiter,
      key: (c) => ({ tenant: "public", key: c.req.header("x-client") ?? "anonymous" }),
      failMode: "closed",
      // Generous: a busy machine must not turn a decision into a fail-closed 503.
      budgetMs: 10_000,
    }),
  );
  app.get("/search", (c) => c.json({ results: [] }));
  app.get("/about", (c) => c.text("not limited"));
  const search = (client: string) => app.request("/search", { headers: { "x-client": client } });

  for (const remaining of [1, 0]) {
    const res = await search("ada");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ results: [] });
    expect(res.headers.get("ratelimit-policy")).toBe('"search";q=2;w=3600');
    expect(res.headers.get("ratelimit")).toMatch(new RegExp(`^"search";r=${remaining};t=\\d+$`));
  }
  const refused = await search("ada");
  expect(refused.status).toBe(429);
  expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
  expect(refused.headers.get("ratelimit")).toMatch(/^"search";r=0;t=\d+$/);
  expect(await refused.json()).toMatchObject({ code: "rate_limited", reason: "rate_limited" });

  // Another client has its own count; a route outside the middleware is not limited.
  expect((await search("grace")).status).toBe(200);
  expect((await app.request("/about")).status).toBe(200);
});

test("the middleware subpath is the same module as the entry's", async () => {
  const { name, entry } = await byOwnName();
  const middleware = (await import(/* @vite-ignore */ `${name}/middleware`)) as PublicEntry;
  expect(middleware.rateLimit).toBe(entry.rateLimit);
  expect(middleware.apiKeyRateLimit).toBe(entry.apiKeyRateLimit);
});
