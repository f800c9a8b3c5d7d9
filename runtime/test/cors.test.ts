// CORS for the actor API (`setup({ cors })`): plain CORS over HTTP, preflights included, with
// x-troupe-error readable; an Origin check for WebSocket upgrades. Off by default.
import { actor, setup } from "troupe";
import { afterEach, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { CORS_ORIGIN, corsRegistry, noCorsRegistry } from "./fixtures/spec-examples/actors.js";
import { type Served, serve, TARGETS } from "./spec-targets.js";

const GAME = CORS_ORIGIN;
const EVIL = "https://evil.example.com";
const withCors = corsRegistry();
const withoutCors = noCorsRegistry();

let t: Served<typeof withCors> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const preflight = (url: string, origin: string) =>
  fetch(url, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type, authorization",
    },
  });

const callAction = (endpoint: string, origin: string, action: string, args: unknown[]) =>
  fetch(`${endpoint}/actors/action/${action}`, {
    method: "POST",
    headers: { origin, "content-type": "application/json" },
    body: JSON.stringify({ actor: { name: "counter", key: ["k"], mode: "getOrCreate" }, args }),
  });

/** Opens a connection speaking the protocol with a given Origin; resolves with its first frame and close. */
function connectWithOrigin(
  endpoint: string,
  origin: string | undefined,
): Promise<{ first: any; close?: { code: number; reason: string } }> {
  const ws = new WebSocket(`${endpoint.replace(/^http/, "ws")}/actors/connect`, { origin });
  return new Promise((resolve, reject) => {
    let first: any;
    ws.on("open", () =>
      ws.send(
        JSON.stringify({ t: "init", actor: { name: "counter", key: ["k"], mode: "getOrCreate" } }),
      ),
    );
    ws.on("message", (data) => {
      first ??= JSON.parse(String(data));
      if (first.t === "welcome") {
        ws.close();
        resolve({ first });
      }
    });
    ws.on("close", (code, reason) => resolve({ first, close: { code, reason: String(reason) } }));
    ws.on("error", reject);
  });
}

/** Opens a raw gateway socket with a given Origin: its first message, or the refused status. */
function rawWithOrigin(
  gatewayUrl: string,
  origin: string,
): Promise<{ message?: string; status?: number; code?: string }> {
  const ws = new WebSocket(`${gatewayUrl.replace(/^http/, "ws")}/websocket/`, { origin });
  return new Promise((resolve, reject) => {
    ws.on("message", (data) => {
      ws.close();
      resolve({ message: String(data) });
    });
    ws.on("unexpected-response", (_req, res) => {
      resolve({ status: res.statusCode, code: String(res.headers["x-troupe-error"]) });
      res.resume();
    });
    ws.on("error", (err) => {
      if (!String(err).includes("Unexpected server response")) reject(err);
    });
  });
}

describe.each(TARGETS)("cors option on %s", (target) => {
  test("preflights from an allowed origin are answered; calls and errors carry the headers", async () => {
    t = await serve(target, withCors);
    const pre = await preflight(`${t.endpoint}/actors/action/increment`, GAME);
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(GAME);
    expect(pre.headers.get("access-control-allow-methods")).toContain("POST");
    expect(pre.headers.get("access-control-allow-headers")).toBe("content-type,authorization");
    expect(pre.headers.get("access-control-max-age")).toBe("600");

    const ok = await callAction(t.endpoint, GAME, "increment", [2]);
    expect(await ok.json()).toEqual({ output: 2 });
    expect(ok.headers.get("access-control-allow-origin")).toBe(GAME);
    expect(ok.headers.get("access-control-expose-headers")).toBe("x-troupe-error");
    expect(ok.headers.get("vary")).toContain("Origin");

    const refused = await callAction(t.endpoint, GAME, "refuse", []);
    expect(refused.status).toBe(400);
    expect(refused.headers.get("x-troupe-error")).toBe("refused");
    expect(refused.headers.get("access-control-allow-origin")).toBe(GAME);
    expect(refused.headers.get("access-control-expose-headers")).toBe("x-troupe-error");

    const meta = await fetch(`${t.endpoint}/metadata`, { headers: { origin: GAME } });
    expect(meta.headers.get("access-control-allow-origin")).toBe(GAME);
    const gw = await t.client.counter.getOrCreate(["k"]).getGatewayUrl();
    const raw = await fetch(`${gw}/request/x`, { headers: { origin: GAME } });
    expect(await raw.text()).toBe("raw");
    expect(raw.headers.get("access-control-allow-origin")).toBe(GAME);
  });

  test("other origins get no CORS headers, so browsers keep the answer from them", async () => {
    t = await serve(target, withCors);
    const pre = await preflight(`${t.endpoint}/actors/action/increment`, EVIL);
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    const res = await callAction(t.endpoint, EVIL, "increment", [1]);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("off by default: no CORS headers, preflights are not answered", async () => {
    const u = await serve(target, withoutCors);
    try {
      const pre = await preflight(`${u.endpoint}/actors/action/increment`, GAME);
      expect(pre.status).toBe(404);
      expect(pre.headers.get("access-control-allow-origin")).toBeNull();
      const res = await callAction(u.endpoint, GAME, "increment", [1]);
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      // WebSockets are not checked either (as before the option existed).
      expect((await connectWithOrigin(u.endpoint, EVIL)).first.t).toBe("welcome");
    } finally {
      await u.close();
    }
  });

  test("WebSocket upgrades: allowed, same-origin and Origin-less pass; other pages are refused", async () => {
    t = await serve(target, withCors);
    expect((await connectWithOrigin(t.endpoint, GAME)).first.t).toBe("welcome");
    expect((await connectWithOrigin(t.endpoint, t.url)).first.t).toBe("welcome");
    expect((await connectWithOrigin(t.endpoint, undefined)).first.t).toBe("welcome");
    const refused = await connectWithOrigin(t.endpoint, EVIL);
    expect(refused.first).toMatchObject({ t: "error", error: { code: "origin_not_allowed" } });
    expect(refused.first.error.message).toContain(EVIL);
    expect(refused.close).toEqual({ code: 4001, reason: "origin_not_allowed" });

    const gw = await t.client.counter.getOrCreate(["k"]).getGatewayUrl();
    expect(await rawWithOrigin(gw, GAME)).toEqual({ message: "raw hello" });
    expect(await rawWithOrigin(gw, EVIL)).toEqual({ status: 403, code: "origin_not_allowed" });
  });
});

describe("cors option", () => {
  const counter = actor({ state: {}, actions: {} });
  test("setup() refuses origins that can never match, and '*' with credentials", () => {
    expect(() => setup({ use: { counter }, cors: { origin: "https://a.example.com/" } })).toThrow(
      'cors.origin "https://a.example.com/" is not an origin',
    );
    expect(() => setup({ use: { counter }, cors: { origin: ["a.example.com"] } })).toThrow(
      "is not an origin",
    );
    expect(() => setup({ use: { counter }, cors: { origin: "*", credentials: true } })).toThrow(
      "cannot be combined with credentials",
    );
    expect(() =>
      setup({ use: { counter }, cors: { origin: (o) => o.endsWith(".example.com") } }),
    ).not.toThrow();
  });
});
