// troupe/server on a real Node server: the storage choice, the health route's 503 with a dead
// database, the drain of `listen().close()` (connections told to go away and reconnecting,
// state written so that the next process finds it) and `stopOnSignals` (exit 0 after a drain,
// exit 1 when it outlasts the grace period or fails).
import { EventEmitter } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createClient } from "../client/index.js";
import { freePort } from "../free-port.js";
import { actor, setup } from "../index.js";
import { waitFor } from "../test/wait.js";
import {
  chooseActorStorage,
  DEFAULT_SHUTDOWN_GRACE_MS,
  healthRoute,
  listen,
  shutdownGraceMs,
  stopOnSignals,
} from "./index.js";

const counter = actor({
  state: { count: 0 },
  actions: {
    increment: (c, by: number) => {
      c.state.count += by;
      return c.state.count;
    },
    get: (c) => c.state.count,
  },
});

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe("chooseActorStorage", () => {
  it("file in development, postgres (schema troupe) in production with DATABASE_URL", () => {
    expect(chooseActorStorage({})).toEqual({ driver: "file", path: ".troupe/data" });
    expect(chooseActorStorage({ TROUPE_DATA_DIR: "/data" })).toEqual({
      driver: "file",
      path: "/data",
    });
    expect(chooseActorStorage({ NODE_ENV: "production", DATABASE_URL: "postgres://x/y" })).toEqual({
      driver: "postgres",
      connectionString: "postgres://x/y",
      schema: "troupe",
    });
    expect(chooseActorStorage({ NODE_ENV: "production" })).toEqual({
      driver: "file",
      path: ".troupe/data",
    });
    expect(chooseActorStorage({ TROUPE_STORAGE: "memory" })).toBeUndefined();
  });
});

describe("shutdownGraceMs", () => {
  it("SHUTDOWN_GRACE_MS, else Railway's draining seconds less one, else the default", () => {
    expect(shutdownGraceMs({})).toBe(DEFAULT_SHUTDOWN_GRACE_MS);
    expect(shutdownGraceMs({ SHUTDOWN_GRACE_MS: "2500" })).toBe(2500);
    expect(shutdownGraceMs({ RAILWAY_DEPLOYMENT_DRAINING_SECONDS: "30" })).toBe(29_000);
    expect(shutdownGraceMs({ RAILWAY_DEPLOYMENT_DRAINING_SECONDS: "1" })).toBe(500);
    expect(shutdownGraceMs({ SHUTDOWN_GRACE_MS: "soon" })).toBe(DEFAULT_SHUTDOWN_GRACE_MS);
  });
});

describe("healthRoute", () => {
  it("answers 503 naming the host:port when the database refuses", async () => {
    const port = await freePort();
    const url = `postgres://postgres@127.0.0.1:${port}/none`;
    const pool = new pg.Pool({ connectionString: url });
    pool.on("error", () => {});
    try {
      const app = new Hono();
      app.get("/api/health", healthRoute(pool, { url }));
      const res = await app.request("/api/health");
      expect(res.status).toBe(503);
      const body = (await res.json()) as { ok: boolean; database: string; reason: string };
      expect(body.ok).toBe(false);
      expect(body.database).toBe("unreachable");
      expect(body.reason).toContain(`127.0.0.1:${port}`);
    } finally {
      await pool.end();
    }
  });

  it("adds the app's own fields to both answers", async () => {
    const url = process.env.DATABASE_URL!;
    const pool = new pg.Pool({ connectionString: url });
    const port = await freePort();
    const deadUrl = `postgres://postgres@127.0.0.1:${port}/none`;
    const dead = new pg.Pool({ connectionString: deadUrl });
    dead.on("error", () => {});
    try {
      const app = new Hono();
      app.get("/up", healthRoute(pool, { url, extra: { model: "stand-in" } }));
      app.get("/down", healthRoute(dead, { url: deadUrl, extra: { model: "stand-in" } }));
      const up = await app.request("/up");
      expect(up.status).toBe(200);
      expect(await up.json()).toEqual({ ok: true, database: "up", model: "stand-in" });
      const down = await app.request("/down");
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({
        ok: false,
        database: "unreachable",
        reason: expect.stringContaining(`127.0.0.1:${port}`),
        model: "stand-in",
      });
    } finally {
      await Promise.all([pool.end(), dead.end()]);
    }
  });
});

describe("listen and its drain", () => {
  it("opens the port only once WebSockets are attached: no upgrade meets a plain 404", async () => {
    const registry = setup({ use: { counter }, storage: "memory" });
    const app = new Hono();
    app.get("/api/health", (c) => c.json({ ok: true }));
    app.all("/api/troupe/*", (c) => registry.handler(c.req.raw));
    // Attaching takes a while (as a registry starting its storage does).
    const slow = {
      attachWebSockets: async (server: import("node:http").Server) => {
        await new Promise((r) => setTimeout(r, 300));
        return registry.attachWebSockets(server);
      },
      close: () => registry.close(),
    };
    const port = await freePort();
    const listening = listen(app, slow, { port, hostname: "127.0.0.1" });
    // Like a platform's health check, then a client: the first answer means ready.
    let healthy = false;
    while (!healthy) {
      healthy = await fetch(`http://127.0.0.1:${port}/api/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (!healthy) await new Promise((r) => setTimeout(r, 10));
    }
    const upgrade = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/troupe/actors/connect`);
      ws.once("open", () => {
        ws.close();
        resolve("open");
      });
      ws.once("unexpected-response", (_req, res) => {
        ws.terminate();
        resolve(`HTTP ${res.statusCode}`);
      });
      ws.once("error", () => resolve("error"));
    });
    expect(upgrade).toBe("open");
    await (await listening).close();
  });

  it("closes connections so that clients reconnect, writes state, then runs onClose", async () => {
    const dir = await mkdtemp(join(tmpdir(), "troupe-server-"));
    dirs.push(dir);
    const start = async () => {
      const registry = setup({ use: { counter }, storage: { driver: "file", path: dir } });
      const app = new Hono();
      app.all("/api/troupe/*", (c) => registry.handler(c.req.raw));
      let closedLast = false;
      const server = await listen(app, registry, {
        port: 0,
        hostname: "127.0.0.1",
        onClose: () => {
          closedLast = true;
        },
      });
      return { server, wasClosed: () => closedLast };
    };

    const first = await start();
    const client = createClient<any>(first.server.url);
    const conn = client.counter.getOrCreate(["drain"]).connect();
    const statuses: string[] = [];
    conn.onStatusChange((s: string) => statuses.push(s));
    conn.onError(() => {}); // the reconnect attempts while no server runs
    try {
      await waitFor(() => conn.status === "connected", { what: "the connection" });
      expect(await conn.increment(5)).toBe(5);
      await first.server.close();
      expect(first.wasClosed()).toBe(true);
      // 1001 "going away": the client does not give up (connected -> connecting is a
      // reconnect; disconnected would be final).
      await waitFor(() => statuses.at(-1) === "connecting", { what: "the client to reconnect" });
      expect(statuses).toEqual(["connecting", "connected", "connecting"]);
      // Idempotent.
      await first.server.close();
    } finally {
      await conn.dispose();
    }

    const second = await start();
    try {
      const again = createClient<any>(second.server.url);
      expect(await again.counter.getOrCreate(["drain"]).get()).toBe(5);
    } finally {
      await second.server.close();
    }
  });
});

describe("stopOnSignals", () => {
  function harness(close: () => Promise<unknown>, graceMs: number) {
    const signals = new EventEmitter();
    const exits: number[] = [];
    const lines: string[] = [];
    stopOnSignals(close, {
      graceMs,
      signals: signals as unknown as Pick<NodeJS.Process, "once">,
      exit: (code) => exits.push(code),
      log: (line) => lines.push(line),
    });
    return { signals, exits, lines };
  }

  it("drains once on SIGTERM and exits 0", async () => {
    let calls = 0;
    const h = harness(async () => {
      calls++;
    }, 5000);
    h.signals.emit("SIGTERM");
    h.signals.emit("SIGINT");
    await waitFor(() => h.exits.length > 0, { what: "the exit" });
    expect(h.exits).toEqual([0]);
    expect(calls).toBe(1);
    expect(h.lines).toEqual([]);
  });

  it("exits 1 with a line when the drain outlasts the grace period", async () => {
    const h = harness(() => new Promise(() => {}), 50);
    h.signals.emit("SIGTERM");
    await waitFor(() => h.exits.length > 0, { what: "the exit" });
    expect(h.exits).toEqual([1]);
    expect(h.lines).toEqual(["SIGTERM: the shutdown did not finish within 50 ms; exiting anyway."]);
  });

  it("exits 1 with the reason when the drain fails", async () => {
    const h = harness(() => Promise.reject(new Error("pool gone")), 5000);
    h.signals.emit("SIGINT");
    await waitFor(() => h.exits.length > 0, { what: "the exit" });
    expect(h.exits).toEqual([1]);
    expect(h.lines).toEqual(["SIGINT: the shutdown failed: pool gone"]);
  });
});
