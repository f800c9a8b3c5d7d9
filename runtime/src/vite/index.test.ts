// startFrontendDevServer with a real Vite and a real API server: the page comes from Vite (with
// its client for hot reload), `/api` requests are answered by the API's own handler in-process
// (not proxied), and the `/api/troupe` WebSocket upgrade reaches the API server through Vite.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { freePort } from "../test/index.js";
import { type FrontendDevServer, startFrontendDevServer } from "./index.js";

let root: string;
let api: ServerType;
let wss: WebSocketServer;
let frontend: FrontendDevServer;
let inProcess = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "troupe-vite-"));
  await writeFile(join(root, "index.html"), "<!doctype html><title>dev page</title><body></body>");
  const app = new Hono();
  app.get("/api/ping", (c) => c.json({ pong: true, via: c.req.header("x-in-process") ?? null }));
  api = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  wss = new WebSocketServer({ server: api as never, path: "/api/troupe/socket" });
  wss.on("connection", (socket) => socket.send("hello from the API"));
  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  frontend = await startFrontendDevServer({
    config: { root, logLevel: "silent", clearScreen: false },
    port: await freePort(),
    host: "127.0.0.1",
    apiUrl,
    apiFetch: (request) => {
      inProcess += 1;
      return app.fetch(request);
    },
  });
}, 60_000);

afterAll(async () => {
  await frontend?.close();
  wss?.close();
  await new Promise<void>((r) => (api ? api.close(() => r()) : r()));
  await rm(root, { recursive: true, force: true });
});

describe("startFrontendDevServer", () => {
  test("serves the page through Vite, with its hot-reload client", async () => {
    expect(frontend.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const html = await (await fetch(`${frontend.url}/`)).text();
    expect(html).toContain("<title>dev page</title>");
    expect(html).toContain("/@vite/client");
  });

  test("answers /api in-process with the API's handler", async () => {
    const before = inProcess;
    const res = await fetch(`${frontend.url}/api/ping`);
    expect(await res.json()).toEqual({ pong: true, via: null });
    expect(inProcess).toBe(before + 1);
  });

  test("proxies the /api/troupe WebSocket to the API server", async () => {
    const ws = new WebSocket(`${frontend.url.replace("http", "ws")}/api/troupe/socket`);
    const message = await new Promise<string>((resolve, reject) => {
      ws.once("message", (data) => resolve(String(data)));
      ws.once("error", reject);
    });
    expect(message).toBe("hello from the API");
    ws.close();
  });
});
