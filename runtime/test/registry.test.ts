// registry.serve(), registry.handler() mounted in Hono, metadata, and the client's endpoint rules.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { actor, setup } from "troupe";
import { createClient } from "troupe/client";
import { freePort } from "troupe/test";
import { describe, expect, test } from "vitest";
import { resolveEndpoint } from "../src/client/http.js";

const counter = actor({
  state: { count: 0 },
  actions: { increment: (c, amount: number) => (c.state.count += amount) },
});

describe("registry", () => {
  test("serve() listens, answers metadata with the actor names, and serves actions", async () => {
    const registry = setup({ use: { counter }, storage: "memory" });
    const server = registry.serve({ port: 0 });
    await server.ready;
    try {
      const meta = await fetch(`${server.url}/api/troupe/metadata`);
      expect(meta.status).toBe(200);
      expect((await meta.json()).actorNames).toEqual(["counter"]);
      const client = createClient<typeof registry>(server.url);
      expect(await client.counter.getOrCreate(["a"]).increment(2)).toBe(2);
    } finally {
      await server.close();
    }
  });

  test("PORT picks the port when none is given", async () => {
    const registry = setup({ use: { counter }, storage: "memory" });
    const old = process.env.PORT;
    // A port known to be free: a random one was sometimes taken on a busy machine.
    process.env.PORT = String(await freePort());
    const server = registry.serve();
    try {
      await server.ready;
      expect(server.port).toBe(Number(process.env.PORT));
    } finally {
      process.env.PORT = old;
      if (old === undefined) delete process.env.PORT;
      await server.close();
    }
  });

  test("handler() mounts under /api/troupe/* in a Hono app next to other routes", async () => {
    const registry = setup({ use: { counter }, storage: "memory" });
    const client = createClient<typeof registry>();
    void client; // the spec's example builds a client at module level; it must not connect eagerly
    const app = new Hono();
    app.get("/hello", (c) => c.text("hi"));
    app.all("/api/troupe/*", (c) => registry.handler(c.req.raw));
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0 }, () => resolve(s));
    });
    const port = (server.address() as { port: number }).port;
    try {
      expect(await (await fetch(`http://localhost:${port}/hello`)).text()).toBe("hi");
      const c = createClient<typeof registry>(`http://localhost:${port}`);
      expect(await c.counter.getOrCreate(["h"]).increment(5)).toBe(5);
      const meta = await fetch(`http://localhost:${port}/api/troupe/metadata`);
      expect(meta.status).toBe(200);
    } finally {
      server.close();
    }
  });

  test("the file driver is the default and keeps state in TROUPE_DATA_DIR", async () => {
    const dir = await mkdtemp(join(tmpdir(), "troupe-default-"));
    const old = process.env.TROUPE_DATA_DIR;
    process.env.TROUPE_DATA_DIR = dir;
    try {
      const first = setup({ use: { counter } }).serve({ port: 0 });
      await first.ready;
      const c1 = createClient(first.url);
      await c1.counter.getOrCreate(["d"]).increment(7);
      await first.close();
      const second = setup({ use: { counter } }).serve({ port: 0 });
      await second.ready;
      const c2 = createClient(second.url);
      expect(await c2.counter.get(["d"]).increment(1)).toBe(8);
      await second.close();
    } finally {
      if (old === undefined) delete process.env.TROUPE_DATA_DIR;
      else process.env.TROUPE_DATA_DIR = old;
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("endpoint rules: argument, else TROUPE_ENDPOINT, else localhost:6420; /api/troupe added to a bare origin", () => {
    const old = process.env.TROUPE_ENDPOINT;
    try {
      delete process.env.TROUPE_ENDPOINT;
      expect(resolveEndpoint()).toBe("http://localhost:6420/api/troupe");
      process.env.TROUPE_ENDPOINT = "https://example.test";
      expect(resolveEndpoint()).toBe("https://example.test/api/troupe");
      expect(resolveEndpoint("http://h:1/custom/base/")).toBe("http://h:1/custom/base");
    } finally {
      if (old === undefined) delete process.env.TROUPE_ENDPOINT;
      else process.env.TROUPE_ENDPOINT = old;
    }
  });
});
