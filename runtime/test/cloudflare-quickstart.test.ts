// The spec's Cloudflare Workers quickstart (shared/spec/actors-quickstart-cloudflare-workers.md),
// Hono variant, on workerd: fixtures/cloudflare/quickstart is the page's registry.ts and
// src/index.ts with only the names changed (see the fixture's comment). It type-checks with the
// repo (Client is imported from troupe/cloudflare, app.fetch is the Worker's own routes), and the
// page's "Test Your Actor" request and its client.ts run against it unchanged but for the URL.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "troupe/client";
import { type RunningWorkerd, startWorkerd } from "troupe/cloudflare/local";
import { waitFor } from "troupe/test";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { registry } from "./fixtures/cloudflare/quickstart/registry.js";

let dataDir: string;
let worker: RunningWorkerd;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "troupe-cf-quickstart-"));
  worker = await startWorkerd({
    entry: join(import.meta.dirname, "fixtures/cloudflare/quickstart/index.ts"),
    dataDir,
  });
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("the Cloudflare Workers quickstart (Hono) on workerd", () => {
  test("POST /increment/:name goes through the Hono route and env.TROUPE", {
    timeout: 120_000,
  }, async () => {
    const response = await fetch(`${worker.url}/increment/my-counter`, { method: "POST" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ count: 1 });
    const again = await fetch(`${worker.url}/increment/my-counter`, { method: "POST" });
    expect(await again.json()).toEqual({ count: 2 });
    // Hono answers what it has no route for.
    expect((await fetch(`${worker.url}/increment/my-counter`)).status).toBe(404);
  });

  test("the page's client.ts: actions, then a connection with its newCount events", {
    timeout: 120_000,
  }, async () => {
    const client = createClient<typeof registry>(`${worker.url}/api/troupe`);
    try {
      const counter = client.counter.getOrCreate(["client-counter"]);
      expect(await counter.increment(3)).toBe(3);
      const connection = counter.connect();
      const counts: number[] = [];
      connection.on("newCount", (newCount: number) => counts.push(newCount));
      expect(await connection.increment(1)).toBe(4);
      await waitFor(() => counts.includes(4), { timeout: 60_000, what: "the newCount event" });
      // The Hono route and the external client reach the same actor.
      const viaRoute = await fetch(`${worker.url}/increment/client-counter`, { method: "POST" });
      expect(await viaRoute.json()).toEqual({ count: 5 });
      await waitFor(() => counts.includes(5), { timeout: 60_000, what: "the route's event" });
      expect(counts).toEqual([4, 5]);
    } finally {
      await client.dispose();
    }
  });
});
