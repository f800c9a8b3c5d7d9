// serveFrontend on a real Node server over a built folder: hashed assets cached for good, a
// missing asset a 404 (not the page), other files cached briefly, client-side routes get
// index.html (revalidated), and the API routes mounted before it keep answering.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { IMMUTABLE, serveFrontend } from "./index.js";

let dir: string;
let server: ServerType;
let base: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "troupe-frontend-"));
  await mkdir(join(dir, "assets"));
  await writeFile(join(dir, "index.html"), "<!doctype html><title>app</title>");
  await writeFile(join(dir, "assets", "main-abc123.js"), "console.log(1)");
  await writeFile(join(dir, "robots.txt"), "User-agent: *");
  const app = new Hono();
  app.get("/api/ping", (c) => c.json({ pong: true }));
  serveFrontend(app, dir);
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

describe("serveFrontend", () => {
  test("hashed assets are served and cached for good", async () => {
    const res = await fetch(`${base}/assets/main-abc123.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe(IMMUTABLE);
    expect(await res.text()).toBe("console.log(1)");
  });

  test("a missing asset is a 404, not the page", async () => {
    const res = await fetch(`${base}/assets/gone-000.js`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("Not found");
  });

  test("other files are cached for an hour", async () => {
    const res = await fetch(`${base}/robots.txt`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=3600");
  });

  test("client-side routes get index.html, revalidated on every load", async () => {
    for (const path of ["/", "/leaderboard", "/rooms/abc"]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(await res.text()).toContain("<title>app</title>");
    }
  });

  test("routes mounted before it keep answering", async () => {
    expect(await (await fetch(`${base}/api/ping`)).json()).toEqual({ pong: true });
  });
});
