// Limits at the protocol boundary, and replies that always carry `output`: deeply nested JSON is
// refused with `too_deep` (HTTP and WebSocket) before it can overflow the stack, actor code that
// builds a too-deep state gets an error naming the path, an action returning a function or a
// symbol answers `null`, and a connection's subscriptions are capped in number and name length.
import { actor, setup } from "troupe";
import { captureLogger, setupTest, type TestRuntime } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { MAX_EVENT_NAME_LENGTH, MAX_JSON_DEPTH, MAX_SUBSCRIPTIONS } from "../src/protocol/wire.js";
import { connectRaw } from "./protocol-client.js";

const nested = (levels: number, inner = "1") => "[".repeat(levels) + inner + "]".repeat(levels);

const box = actor({
  state: { value: null as unknown, deep: null as unknown },
  actions: {
    store: (c, value: unknown) => {
      c.state.value = value;
      return "stored";
    },
    /** Nesting built by actor code, not received: the state itself must refuse it. */
    buildDeep: (c, levels: number) => {
      let v: unknown = 1;
      for (let i = 0; i < levels; i++) v = [v];
      c.state.deep = v;
    },
    fn: () => () => 1,
    sym: () => Symbol("s"),
    undef: () => undefined,
    mixed: () => ({ a: () => 1, b: undefined, c: [() => 1, undefined, Symbol("x"), 2], d: 1 }),
    viaClient: async (c, action: string) => {
      const out = await (c.client() as any).box.getOrCreate(["other"])[action]();
      return { out };
    },
    shout: (c, name: string) => c.broadcast(name, "hi"),
  },
});

let logger = captureLogger();
let t: TestRuntime<any> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});
async function start() {
  logger = captureLogger();
  t = await setupTest(setup({ use: { box }, logger }));
  return t;
}
const q = { name: "box", key: ["b"], mode: "getOrCreate" };

async function post(path: string, body: string) {
  const res = await fetch(`${t!.endpoint}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  return { status: res.status, header: res.headers.get("x-troupe-error"), json: await res.json() };
}

describe("nesting depth", () => {
  test("HTTP: a body nested deeper than MAX_JSON_DEPTH is refused with 400 too_deep", async () => {
    await start();
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
    expect(logger.entries.filter((e) => e.level === "error")).toEqual([]);
  });

  test("WebSocket: a frame nested too deep gets too_deep with its id; the connection stays usable", async () => {
    await start();
    const conn = await connectRaw(t!.endpoint, q);
    conn.send(`{"t":"action","id":7,"name":"store","args":[${nested(5_000)}]}`);
    const refused = await conn.next((m) => m.id === 7);
    expect(refused.error.code).toBe("too_deep");
    conn.send(`{"t":"action","id":8,"name":"store","args":[${nested(10)}]}`);
    expect((await conn.next((m) => m.id === 8)).output).toBe("stored");
    conn.ws.close();
    expect(logger.entries.filter((e) => e.level === "error")).toEqual([]);
  });

  test("actor code assigning a too-deep value gets an error naming the path, not a stack overflow", async () => {
    await start();
    const err = await t!.client.box
      .getOrCreate(["b"])
      .buildDeep(20_000)
      .catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe("internal_error");
    const logged = logger.find("error", "internal error");
    const message = String((logged?.fields.error as Error | undefined)?.message);
    expect(message).toContain("state.deep[0][0]");
    expect(message).toContain("levels");
    expect(message).not.toContain("call stack");
    // Nothing of it was stored; the actor keeps working.
    expect(await t!.client.box.getOrCreate(["b"]).buildDeep(50)).toBeNull();
  });
});

describe("replies always carry output", () => {
  test("HTTP: a function, a symbol or undefined answers { output: null }; nested ones follow JSON", async () => {
    await start();
    for (const action of ["fn", "sym", "undef"]) {
      const r = await post(`/actors/action/${action}`, `{"actor":${JSON.stringify(q)},"args":[]}`);
      expect([action, r.status, r.json]).toEqual([action, 200, { output: null }]);
    }
    const mixed = await post("/actors/action/mixed", `{"actor":${JSON.stringify(q)},"args":[]}`);
    expect(mixed.json).toEqual({ output: { c: [null, null, null, 2], d: 1 } });
  });

  test("WebSocket: the result frame has output: null", async () => {
    await start();
    const conn = await connectRaw(t!.endpoint, q);
    for (const [id, action] of [
      [1, "fn"],
      [2, "sym"],
      [3, "undef"],
    ] as const) {
      conn.send({ t: "action", id, name: action, args: [] });
      const reply = await conn.next((m) => m.id === id);
      expect([action, reply]).toEqual([action, { t: "result", id, output: null }]);
    }
    conn.ws.close();
  });

  test("actor to actor: a function output arrives as null, not as an error", async () => {
    await start();
    expect(await t!.client.box.getOrCreate(["b"]).viaClient("fn")).toEqual({ out: null });
    expect(logger.entries.filter((e) => e.level === "error")).toEqual([]);
  });
});

describe("subscriptions", () => {
  test("a connection subscribes to at most MAX_SUBSCRIPTIONS names; more is too_many_subscriptions", async () => {
    await start();
    const conn = await connectRaw(t!.endpoint, q);
    for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) conn.send({ t: "sub", event: `e${i}` });
    conn.send({ t: "sub", event: "e0" }); // already subscribed: not a new one
    conn.send({ t: "sub", event: "one-too-many" });
    const refused = await conn.next((m) => m.t === "error");
    expect(refused.error.code).toBe("too_many_subscriptions");
    expect(refused.error.message).toContain(String(MAX_SUBSCRIPTIONS));
    // Unsubscribing frees a place; events still reach the names subscribed.
    conn.send({ t: "unsub", event: "e1" });
    conn.send({ t: "sub", event: "late" });
    conn.send({ t: "action", id: 1, name: "shout", args: ["late"] });
    expect((await conn.next((m) => m.t === "event")).name).toBe("late");
    expect(conn.messages.filter((m) => m.t === "error")).toEqual([]);
    conn.ws.close();
  });

  test("an event name longer than MAX_EVENT_NAME_LENGTH is refused with event_name_too_long", async () => {
    await start();
    const conn = await connectRaw(t!.endpoint, q);
    conn.send({ t: "sub", event: "x".repeat(MAX_EVENT_NAME_LENGTH + 1) });
    expect((await conn.next((m) => m.t === "error")).error.code).toBe("event_name_too_long");
    conn.send({ t: "unsub", event: "x".repeat(1024 * 512) });
    expect((await conn.next((m) => m.t === "error")).error.code).toBe("event_name_too_long");
    const longest = "y".repeat(MAX_EVENT_NAME_LENGTH);
    conn.send({ t: "sub", event: longest });
    conn.send({ t: "action", id: 1, name: "shout", args: [longest] });
    expect((await conn.next((m) => m.t === "event")).name).toBe(longest);
    conn.ws.close();
  });
});
