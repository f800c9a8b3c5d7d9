// troupe/client in a real browser: Chromium loads a page served next to the registry, and the
// page calls the actor with the typed client (no endpoint given: it uses the page's origin), over
// HTTP and over a live connection with the browser's own WebSocket.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { build } from "esbuild";
import { Hono } from "hono";
import { chromium } from "playwright-core";
import { actor, setup, UserError } from "troupe";
import { describe, expect, test } from "vitest";

const counter = actor({
  state: { count: 0 },
  actions: {
    increment: (c, amount: number) => {
      c.state.count += amount;
      c.broadcast("count", c.state.count);
      return c.state.count;
    },
    refuse: () => {
      throw new UserError("nope", { code: "refused" });
    },
  },
});
// Greets a raw WebSocket as soon as it opens, in the handler and in its "open" listener.
const greeter = actor({
  state: {},
  onWebSocket: (_c, websocket) => {
    websocket.send("hello from onWebSocket");
    websocket.addEventListener("open", () => websocket.send("hello from open"));
    websocket.addEventListener("message", (event) => websocket.send(`echo ${event.data}`));
  },
  actions: {},
});
export const registry = setup({ use: { counter, greeter }, storage: "memory" });

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/lib/chromium/chromium";
const available = existsSync(CHROMIUM);
if (!available && process.env.CI) throw new Error(`Chromium is required in CI (${CHROMIUM}).`);

describe.skipIf(!available)("browser", () => {
  test("the client works in Chromium against the page's own origin", async () => {
    const bundle = await build({
      entryPoints: [join(import.meta.dirname, "browser/page.ts")],
      bundle: true,
      format: "esm",
      platform: "browser",
      write: false,
      target: "es2022",
    });
    const js = bundle.outputFiles[0]!.text;
    const app = new Hono();
    app.get("/", (c) =>
      c.html(
        '<!doctype html><pre id="out">loading</pre><script type="module" src="/page.js"></script>',
      ),
    );
    app.get("/page.js", (c) => c.body(js, 200, { "content-type": "text/javascript" }));
    app.all("/api/troupe/*", (c) => registry.handler(c.req.raw));
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    const sockets = await registry.attachWebSockets(server as import("node:http").Server);
    const port = (server.address() as { port: number }).port;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForFunction(() => document.getElementById("out")?.textContent !== "loading");
      const result = JSON.parse((await page.textContent("#out"))!);
      expect(errors).toEqual([]);
      expect(result).toEqual({
        first: 2,
        second: 5,
        code: "refused",
        viaConn: 15,
        broadcast: 15,
        statuses: ["connecting", "connected", "disconnected"],
        raw: ["hello from onWebSocket", "hello from open", "echo ping"],
      });
    } finally {
      await browser.close();
      sockets.close();
      server.close();
    }
  }, 60_000);
});
