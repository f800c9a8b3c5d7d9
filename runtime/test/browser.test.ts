// troupe/client in a real browser: Chromium loads a page and the page calls actors with the
// client, over HTTP, over a live connection and over a raw WebSocket, with the browser's own
// fetch and WebSocket. First from the page's own origin (no endpoint given), then from another
// origin, which only the registry's `cors` option lets through.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { build } from "esbuild";
import { Hono } from "hono";
import { type Browser, chromium } from "playwright-core";
import { actor, setup, UserError } from "troupe";
import { setupTest } from "troupe/test";
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

/** The origin of the page in the cross-origin test, known once its server listens. */
let pageOrigin = "";
const allowsPage = setup({
  use: { counter, greeter },
  cors: { origin: (origin) => origin === pageOrigin },
});
const allowsOthers = setup({ use: { counter, greeter }, cors: { origin: "https://game.example" } });
const noCors = setup({ use: { counter, greeter } });

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/lib/chromium/chromium";
const available = existsSync(CHROMIUM);
if (!available && process.env.CI) throw new Error(`Chromium is required in CI (${CHROMIUM}).`);

/** Serves `browser/<script>` bundled, under a page whose script writes its result in #out. */
async function pageApp(script: string): Promise<Hono> {
  const bundle = await build({
    entryPoints: [join(import.meta.dirname, "browser", script)],
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
  return app;
}

function listen(app: Hono): Promise<ReturnType<typeof serve>> {
  return new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
}

/** Opens `url` in Chromium and returns what the page wrote, failing on any page error. */
async function runPage(url: string): Promise<any> {
  const browser: Browser = await chromium.launch({
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
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById("out")?.textContent !== "loading", {
      timeout: 30_000,
    });
    expect(errors).toEqual([]);
    return JSON.parse((await page.textContent("#out"))!);
  } finally {
    await browser.close();
  }
}

describe.skipIf(!available)("browser", () => {
  test("the client works in Chromium against the page's own origin", async () => {
    const app = await pageApp("page.ts");
    app.all("/api/troupe/*", (c) => registry.handler(c.req.raw));
    const server = await listen(app);
    const sockets = await registry.attachWebSockets(server as import("node:http").Server);
    const port = (server.address() as { port: number }).port;
    try {
      expect(await runPage(`http://127.0.0.1:${port}/`)).toEqual({
        first: 2,
        second: 5,
        code: "refused",
        viaConn: 15,
        broadcast: 15,
        statuses: ["connecting", "connected", "disconnected"],
        raw: ["hello from onWebSocket", "hello from open", "echo ping"],
      });
    } finally {
      sockets.close();
      server.close();
    }
  }, 60_000);

  test("a page on another origin reaches the API only where cors allows it", async () => {
    const server = await listen(await pageApp("cross-origin-page.ts"));
    pageOrigin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const allowed = await setupTest(allowsPage);
    const others = await setupTest(allowsOthers);
    const closed = await setupTest(noCors);
    try {
      const query = new URLSearchParams({
        allowed: allowed.url,
        others: others.url,
        closed: closed.url,
      });
      expect(await runPage(`${pageOrigin}/?${query}`)).toEqual({
        allowed: {
          increment: 2,
          code: "refused",
          errorHeader: "action_not_found",
          viaConn: 5,
          broadcast: 5,
          raw: ["hello from onWebSocket", "hello from open", "echo ping"],
        },
        // The browser keeps the answer from the page: the client sees a network error.
        closed: { increment: "network_error" },
        // WebSockets are checked by Origin: the connection is refused with its code.
        others: { increment: "network_error", connect: "origin_not_allowed", raw: "network_error" },
      });
    } finally {
      await Promise.all([allowed.close(), others.close(), closed.close()]);
      server.close();
    }
  }, 60_000);
});
