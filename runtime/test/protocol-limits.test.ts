// Limits at the protocol boundary, and replies that always carry `output`: deeply nested JSON is
// refused with `too_deep` (HTTP and WebSocket) before it can overflow the stack, actor code that
// builds a too-deep state gets an error naming the path, an action returning a function or a
// symbol answers `null`, and a connection's subscriptions are capped in number and name length.
import { captureLogger, waitFor } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { MAX_EVENT_NAME_LENGTH, MAX_JSON_DEPTH, MAX_SUBSCRIPTIONS } from "../src/protocol/wire.js";
import { protocolLimitsRegistry } from "./fixtures/suites/protocol-limits.js";
import { connectRaw } from "./protocol-client.js";
import { loggedOn, type Served, serve, TARGETS } from "./spec-targets.js";

const nested = (levels: number, inner = "1") => "[".repeat(levels) + inner + "]".repeat(levels);
/** How long a raw client waits for a frame (a Durable Object's first wake is slow when busy). */
const FRAME_WAIT = 60_000;

const logger = captureLogger();
const registry = protocolLimitsRegistry(logger);
let t: Served<typeof registry> | undefined;
beforeEach(() => logger.clear());
afterEach(async () => {
  await t?.close();
  t = undefined;
});
const q = { name: "box", key: ["b"], mode: "getOrCreate" };

async function post(path: string, body: string) {
  const res = await fetch(`${t!.endpoint}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  return { status: res.status, header: res.headers.get("x-troupe-error"), json: await res.json() };
}

/**
 * The error lines logged, but for the one buildDeep provokes on purpose: on Node this test's
 * (the capturing logger is cleared before each), on workerd the file's (its workerd serves this
 * file alone).
 */
const unexpectedErrors = () =>
  loggedOn(t!, logger, ["action"], (l) => l.level === "error" && l.action !== "buildDeep");

describe.each(TARGETS)("protocol limits on %s", (target) => {
  // Nesting depth.
  test("HTTP: a body nested deeper than MAX_JSON_DEPTH is refused with 400 too_deep", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
    for (const levels of [MAX_JSON_DEPTH, 5_000, 200_000]) {
      const r = await post(
        "/actors/action/store",
        `{"actor":${JSON.stringify(q)},"args":[${nested(levels)}]}`,
      );
      expect([levels, r.status, r.json.error?.code, r.header]).toEqual([
        levels,
        400,
        "too_deep",
        "too_deep",
      ]);
      expect(r.json.error.message).toContain(String(MAX_JSON_DEPTH));
    }
    // resolve's input too, and an object nesting as well as an array one.
    const deepObject = `${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}`;
    const r = await post(
      "/actors/resolve",
      `{"name":"box","key":["x"],"mode":"getOrCreate","input":${deepObject}}`,
    );
    expect([r.status, r.json.error?.code]).toEqual([400, "too_deep"]);
    // Just inside the limit (body object + args array + the value): accepted and stored.
    const ok = await post(
      "/actors/action/store",
      `{"actor":${JSON.stringify(q)},"args":[${nested(MAX_JSON_DEPTH - 2)}]}`,
    );
    expect([ok.status, ok.json.output]).toEqual([200, "stored"]);
    expect(unexpectedErrors()).toEqual([]);
  });

  test("WebSocket: a frame nested too deep gets too_deep with its id; the connection stays usable", async () => {
    t = await serve(target, registry);
    const conn = await connectRaw(t.endpoint, q);
    conn.send(`{"t":"action","id":7,"name":"store","args":[${nested(5_000)}]}`);
    const refused = await conn.next((m) => m.id === 7, FRAME_WAIT);
    expect(refused.error.code).toBe("too_deep");
    conn.send(`{"t":"action","id":8,"name":"store","args":[${nested(10)}]}`);
    expect((await conn.next((m) => m.id === 8, FRAME_WAIT)).output).toBe("stored");
    conn.ws.close();
    expect(unexpectedErrors()).toEqual([]);
  });

  test("actor code assigning a too-deep value gets an error naming the path, not a stack overflow", async () => {
    t = await serve(target, registry);
    const err = await t.client.box
      .getOrCreate(["b"])
      .buildDeep(20_000)
      .catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe("internal_error");
    const deepErrors = () =>
      loggedOn(t!, logger, ["action"], (l) => l.level === "error" && l.action === "buildDeep");
    // workerd's output reaches this process through a pipe, maybe after the reply.
    await waitFor(() => deepErrors().length > 0, { timeout: 60_000, what: "the log line" });
    const [logged] = deepErrors();
    expect(logged?.message).toBe("internal error");
    const message = String(logged?.error);
    expect(message).toContain("state.deep[0][0]");
    expect(message).toContain("levels");
    expect(message).not.toContain("call stack");
    // Nothing of it was stored; the actor keeps working.
    expect(await t.client.box.getOrCreate(["b"]).buildDeep(50)).toBeNull();
  });

  // Replies always carry output.
  test("HTTP: a function, a symbol or undefined answers { output: null }; nested ones follow JSON", async () => {
    t = await serve(target, registry);
    for (const action of ["fn", "sym", "undef"]) {
      const r = await post(`/actors/action/${action}`, `{"actor":${JSON.stringify(q)},"args":[]}`);
      expect([action, r.status, r.json]).toEqual([action, 200, { output: null }]);
    }
    const mixed = await post("/actors/action/mixed", `{"actor":${JSON.stringify(q)},"args":[]}`);
    expect(mixed.json).toEqual({ output: { c: [null, null, null, 2], d: 1 } });
  });

  test("WebSocket: the result frame has output: null", async () => {
    t = await serve(target, registry);
    const conn = await connectRaw(t.endpoint, q);
    for (const [id, action] of [
      [1, "fn"],
      [2, "sym"],
      [3, "undef"],
    ] as const) {
      conn.send({ t: "action", id, name: action, args: [] });
      const reply = await conn.next((m) => m.id === id, FRAME_WAIT);
      expect([action, reply]).toEqual([action, { t: "result", id, output: null }]);
    }
    conn.ws.close();
  });

  test("actor to actor: a function output arrives as null, not as an error", async () => {
    t = await serve(target, registry);
    expect(await t.client.box.getOrCreate(["b"]).viaClient("fn")).toEqual({ out: null });
    expect(unexpectedErrors()).toEqual([]);
  });

  // Subscriptions.
  test("a connection subscribes to at most MAX_SUBSCRIPTIONS names; more is too_many_subscriptions", async () => {
    t = await serve(target, registry);
    const conn = await connectRaw(t.endpoint, q);
    for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) conn.send({ t: "sub", event: `e${i}` });
    conn.send({ t: "sub", event: "e0" }); // already subscribed: not a new one
    conn.send({ t: "sub", event: "one-too-many" });
    const refused = await conn.next((m) => m.t === "error", FRAME_WAIT);
    expect(refused.error.code).toBe("too_many_subscriptions");
    expect(refused.error.message).toContain(String(MAX_SUBSCRIPTIONS));
    // Unsubscribing frees a place; events still reach the names subscribed.
    conn.send({ t: "unsub", event: "e1" });
    conn.send({ t: "sub", event: "late" });
    conn.send({ t: "action", id: 1, name: "shout", args: ["late"] });
    expect((await conn.next((m) => m.t === "event", FRAME_WAIT)).name).toBe("late");
    expect(conn.messages.filter((m) => m.t === "error")).toEqual([]);
    conn.ws.close();
  });

  test("an event name longer than MAX_EVENT_NAME_LENGTH is refused with event_name_too_long", async () => {
    t = await serve(target, registry);
    const conn = await connectRaw(t.endpoint, q);
    conn.send({ t: "sub", event: "x".repeat(MAX_EVENT_NAME_LENGTH + 1) });
    expect((await conn.next((m) => m.t === "error", FRAME_WAIT)).error.code).toBe(
      "event_name_too_long",
    );
    conn.send({ t: "unsub", event: "x".repeat(1024 * 512) });
    expect((await conn.next((m) => m.t === "error", FRAME_WAIT)).error.code).toBe(
      "event_name_too_long",
    );
    const longest = "y".repeat(MAX_EVENT_NAME_LENGTH);
    conn.send({ t: "sub", event: longest });
    conn.send({ t: "action", id: 1, name: "shout", args: [longest] });
    expect((await conn.next((m) => m.t === "event", FRAME_WAIT)).name).toBe(longest);
    conn.ws.close();
  });
});
