// startFrontendDevServer with a real Vite and a real API server: every request goes to the app's
// own handler first, in-process (not proxied), so its routes win wherever they live (`/api`, or
// a public API such as the rate limiter's `/v1`), as in production; what its routes leave, the
// app hands on to Vite through `serveFrontend(app, frontend)`: the page (with Vite's client for
// hot reload), client-side routes, Vite's modules. The `/api/troupe` WebSocket upgrade reaches
// the API server through Vite.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { DevFrontend, serveFrontend } from "../server/index.js";
import { freePort } from "../test/index.js";
import { type FrontendDevServer, startFrontendDevServer } from "./index.js";

let root: string;
let api: ServerType;
let wss: WebSocketServer;
let frontend: FrontendDevServer;
let inProcess = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "troupe-vite-"));
  await writeFile(
    join(root, "index.html"),
    '<!doctype html><title>dev page</title><body><script type="module" src="/main.ts"></script></body>',
  );
  await writeFile(join(root, "main.ts"), "export const answer: number = 42;\n");
  const app = new Hono();
  app.get("/api/ping", (c) => c.json({ pong: true, via: c.req.header("x-in-process") ?? null }));
  // A route outside /api, as the rate limiter's public API (`/v1/*`).
  app.get("/v1/quotes", (c) => c.json({ quotes: ["from the app"] }));
  app.post("/v1/echo", async (c) => c.json({ echoed: await c.req.text() }));
  app.all("/api/*", (c) => c.json({ code: "not_found" }, 404));
  const frontendHandOff = new DevFrontend();
  serveFrontend(app, frontendHandOff);
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
    apiFetch: (request, env) => {
      inProcess += 1;
      return app.fetch(request, env);
    },
    frontend: frontendHandOff,
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

  test("routes outside /api reach the app, ahead of Vite's page fallback", async () => {
    const page = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
    const quotes = await fetch(`${frontend.url}/v1/quotes`, { headers: page });
    expect(quotes.status).toBe(200);
    expect(quotes.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await quotes.json()).toEqual({ quotes: ["from the app"] });
    const echo = await fetch(`${frontend.url}/v1/echo`, { method: "POST", body: "hi" });
    expect(await echo.json()).toEqual({ echoed: "hi" });
  });

  test("an unknown /api path gets the app's JSON 404, not the page", async () => {
    const res = await fetch(`${frontend.url}/api/nope`, { headers: { accept: "*/*" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ code: "not_found" });
  });

  test("what the app's routes leave goes to Vite: client-side routes, modules, its client", async () => {
    const page = await fetch(`${frontend.url}/keys/some-key`, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>dev page</title>");
    const module = await fetch(`${frontend.url}/main.ts`);
    expect(module.status).toBe(200);
    expect(module.headers.get("content-type")).toMatch(/javascript/);
    expect(await module.text()).toContain("answer = 42");
    expect((await fetch(`${frontend.url}/@vite/client`)).status).toBe(200);
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
