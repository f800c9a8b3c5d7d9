// bodyLimit in front of ordinary Hono routes, on a real Node server: bodies within the limit
// reach the route unchanged, bodies over it get the runtime's JSON 413 whether they declare
// their size or stream it chunked (also one that never ends), and the server keeps serving.
import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type RawResponse, rawRequest, repeatedChunks } from "../test/raw-request.js";
import { bodyLimit } from "./index.js";

const LIMIT = 1024;
let server: ServerType;
let base: string;

beforeAll(async () => {
  const app = new Hono();
  app.use("/limited/*", bodyLimit({ maxBytes: LIMIT }));
  app.post("/limited/echo", async (c) => c.json({ text: await c.req.text() }));
  app.post("/limited/json", async (c) => c.json(await c.req.json()));
  app.get("/limited/get", (c) => c.json({ ok: true }));
  app.post("/open", async (c) => c.json({ length: (await c.req.text()).length }));
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function post(path: string, body: string | Iterable<Uint8Array>): Promise<RawResponse> {
  return rawRequest(`${base}${path}`, {
    method: "POST",
    ...(typeof body === "string" ? { body } : { chunks: body }),
  });
}

function expectTooLarge(res: RawResponse): void {
  expect(res.status).toBe(413);
  expect(res.headers["x-troupe-error"]).toBe("payload_too_large");
  const body = res.json() as { error: { code: string; message: string } };
  expect(body.error.code).toBe("payload_too_large");
  expect(body.error.message).toContain(`${LIMIT} bytes`);
}

describe("bodyLimit", () => {
  test("a body within the limit reaches the route unchanged, declared or chunked", async () => {
    const text = "é".repeat(LIMIT / 2); // exactly LIMIT bytes in UTF-8
    expect((await post("/limited/echo", text)).json()).toEqual({ text });
    const streamed = await post("/limited/echo", repeatedChunks(256, 4));
    expect(streamed.json()).toEqual({ text: "x".repeat(LIMIT) });
    const json = await post("/limited/json", JSON.stringify({ a: [1, 2] }));
    expect(json.json()).toEqual({ a: [1, 2] });
    expect(await (await fetch(`${base}/limited/get`)).json()).toEqual({ ok: true });
  });

  test("a declared body over the limit is refused before it is read", async () => {
    expectTooLarge(await post("/limited/echo", "x".repeat(LIMIT + 1)));
    expectTooLarge(await post("/limited/json", "x".repeat(5 * 1024 * 1024)));
    // Also on a GET, which fetch() cannot send with a body.
    expectTooLarge(await rawRequest(`${base}/limited/get`, { body: "x".repeat(LIMIT + 1) }));
  });

  test("a chunked body is counted while it streams, and one that never ends is cut", async () => {
    expectTooLarge(await post("/limited/echo", repeatedChunks(300, 4)));
    expectTooLarge(await post("/limited/echo", repeatedChunks(64 * 1024)));
    // The server keeps serving, and routes without the middleware are not limited.
    expect((await post("/limited/echo", "small")).json()).toEqual({ text: "small" });
    expect((await post("/open", "x".repeat(LIMIT * 4))).json()).toEqual({
      length: LIMIT * 4,
    });
  });

  test("maxBytes must be a whole number", () => {
    expect(() => bodyLimit({ maxBytes: -1 })).toThrow(/maxBytes/);
    expect(() => bodyLimit({ maxBytes: Number.NaN })).toThrow(/maxBytes/);
  });
});
