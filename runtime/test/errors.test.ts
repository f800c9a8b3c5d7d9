// Every error code the runtime produces, as a client (typed or raw HTTP) sees it, on Node and on
// workerd (where the Worker answers what it can route itself and the Durable Object the rest).
import { ActorError } from "troupe/client";
import { setupTest } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { defaultLimitRegistry, errorsRegistry } from "./fixtures/suites/errors.js";
import { nodeOnly, type Served, serve, TARGETS } from "./spec-targets.js";

const registry = errorsRegistry();
let t: Served<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function post(path: string, body: string | object, headers: Record<string, string> = {}) {
  const res = await fetch(`${t!.endpoint}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const json = await res.json();
  return {
    status: res.status,
    code: json.error?.code,
    message: json.error?.message,
    header: res.headers.get("x-troupe-error"),
    json,
  };
}

const q = (key: unknown = ["a"], mode = "getOrCreate") => ({ name: "echo", key, mode });

describe.each(TARGETS)("error codes on %s", (target) => {
  test("unknown actor name: unknown_actor_type, listing the known names", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
    const r = await post("/actors/action/echo", {
      actor: { name: "nope", key: [], mode: "getOrCreate" },
      args: [],
    });
    expect([r.status, r.code, r.header]).toEqual([404, "unknown_actor_type", "unknown_actor_type"]);
    expect(r.message).toContain("echo");
    const err = await (t.client as any).nope
      .getOrCreate([])
      .echo(1)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorError);
    expect(err.code).toBe("unknown_actor_type");
  });

  test("unknown action: action_not_found, also for Object.prototype names", async () => {
    t = await serve(target, registry);
    for (const name of ["missing", "constructor", "__proto__", "toString", "hasOwnProperty"]) {
      const r = await post(`/actors/action/${name}`, { actor: q(), args: [] });
      expect([name, r.status, r.code]).toEqual([name, 404, "action_not_found"]);
    }
  });

  test("malformed JSON body: invalid_request", async () => {
    t = await serve(target, registry);
    const r = await post("/actors/action/echo", "{not json");
    expect([r.status, r.code]).toEqual([400, "invalid_request"]);
  });

  test("body of the wrong shape: invalid_request", async () => {
    t = await serve(target, registry);
    for (const body of [
      "[]",
      "42",
      '{"args":[]}',
      '{"actor":{"key":[]},"args":[]}',
      '{"actor":{"name":"echo","mode":"sometimes"},"args":[]}',
    ]) {
      const r = await post("/actors/action/echo", body);
      expect([body, r.status, r.code]).toEqual([body, 400, "invalid_request"]);
    }
  });

  test("arguments that are not an array: invalid_arguments", async () => {
    t = await serve(target, registry);
    for (const args of [{ a: 1 }, "x", null, 3]) {
      const r = await post("/actors/action/echo", { actor: q(), args });
      expect([r.status, r.code]).toEqual([400, "invalid_arguments"]);
    }
    const missing = await post("/actors/action/echo", { actor: q() });
    expect(missing.code).toBe("invalid_arguments");
  });

  test("oversized request: payload_too_large, and the server keeps serving", async () => {
    t = await serve(target, registry);
    const big = "x".repeat(70 * 1024);
    const r = await post("/actors/action/echo", { actor: q(), args: [big] });
    expect([r.status, r.code]).toEqual([413, "payload_too_large"]);
    const err = await t.client.echo
      .getOrCreate(["a"])
      .echo(big)
      .catch((e: any) => e);
    expect(err.code).toBe("payload_too_large");
    expect(await t.client.echo.getOrCreate(["a"]).echo("small")).toBe("small");
  });

  test("a chunked body without Content-Length is counted while it streams", async () => {
    t = await serve(target, registry);
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${t.endpoint}/actors/action/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe("payload_too_large");
  });

  test("the default limit is 1 MiB", async () => {
    const plain = await serve(target, defaultLimitRegistry());
    try {
      const almost = "x".repeat(1024 * 1024 - 200);
      expect((await plain.client.echo.getOrCreate(["a"]).echo(almost)).length).toBe(almost.length);
      const over = "x".repeat(1024 * 1024 + 10);
      const err = await plain.client.echo
        .getOrCreate(["a"])
        .echo(over)
        .catch((e: any) => e);
      expect(err.code).toBe("payload_too_large");
    } finally {
      await plain.close();
    }
  });

  test("action timeout: action_timeout after actionTimeout", async () => {
    t = await serve(target, registry);
    const pending = t.client.echo
      .getOrCreate(["a"])
      .never()
      .catch((e: any) => e);
    // Node: the manual clock; workerd: a Durable Object's timers run on the platform's clock,
    // so the second passes for real.
    if (t.clock) {
      await new Promise((r) => setTimeout(r, 50));
      await t.clock.advance(1001);
    }
    const err = await pending;
    expect(err.code).toBe("action_timeout");
    expect(err.message).toContain("1000 ms");
  });

  test("get of a missing actor: actor_not_found; create of an existing one: actor_already_exists", async () => {
    t = await serve(target, registry);
    const missing = await t.client.echo
      .get(["ghost"])
      .echo(1)
      .catch((e: any) => e);
    expect(missing.code).toBe("actor_not_found");
    await t.client.echo.create(["taken"]);
    const dup = await t.client.echo.create(["taken"]).catch((e: any) => e);
    expect(dup.code).toBe("actor_already_exists");
    const byId = await t.client.echo
      .getForId("0000")
      .echo(1)
      .catch((e: any) => e);
    expect(byId.code).toBe("actor_not_found");
  });

  test("keys: invalid_key for non-string parts, key_too_long past the limit", async () => {
    t = await serve(target, registry);
    const bad = await post("/actors/action/echo", { actor: q([1, 2]), args: [] });
    expect([bad.status, bad.code]).toEqual([400, "invalid_key"]);
    const long = await post("/actors/action/echo", { actor: q(["k".repeat(3000)]), args: [] });
    expect([long.status, long.code]).toEqual([400, "key_too_long"]);
  });

  nodeOnly(target, "Workers have no server shutdown: the platform evicts an object unannounced")(
    "a call while the server shuts down: actor_stopping (503, retryable)",
    async () => {
      const rt = await setupTest(registry);
      try {
        await rt.client.echo.getOrCreate(["a"]).echo(1);
        await rt.engine.close(); // the engine stops; the HTTP listener is still up
        const res = await fetch(`${rt.endpoint}/actors/action/echo`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ actor: q(), args: [1] }),
        });
        expect([res.status, (await res.json()).error.code]).toEqual([503, "actor_stopping"]);
      } finally {
        await rt.close();
      }
    },
  );

  test("unknown route: not_found", async () => {
    t = await serve(target, registry);
    const res = await fetch(`${t.endpoint}/nope`);
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe("not_found");
  });
});
