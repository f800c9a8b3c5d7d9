// onRequest, reached through handle.fetch() and the gateway URL.
import { actor, setup } from "troupe";
import { captureLogger, setupTest, type TestRuntime } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";

const api = actor({
  state: { count: 0 },
  onRequest: async (c, request) => {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/count") {
      return Response.json({ count: c.state.count, q: url.searchParams.get("q") });
    }
    if (request.method === "POST" && url.pathname === "/increment") {
      const body = (await request.json()) as { by?: number };
      c.state.count += body.by ?? 1;
      return Response.json({ count: c.state.count });
    }
    if (url.pathname === "/boom") throw new Error("hidden detail");
    if (url.pathname === "/pass") return;
    return new Response("Not Found", { status: 404 });
  },
  actions: { count: (c) => c.state.count },
});
const plain = actor({ state: {}, actions: {} });

const logger = captureLogger();
const registry = setup({ use: { api, plain }, logger });
let t: TestRuntime<typeof registry>;
afterEach(() => t?.close());

describe("onRequest", () => {
  test("handle.fetch reaches onRequest with path, method, query and body", async () => {
    t = await setupTest(registry);
    const h = t.client.api.getOrCreate(["my-actor"]);
    const res = await h.fetch("/increment", { method: "POST", body: JSON.stringify({ by: 5 }) });
    expect(await res.json()).toEqual({ count: 5 });
    expect(await (await h.fetch("count?q=1")).json()).toEqual({ count: 5, q: "1" });
    expect(await h.count()).toBe(5);
    const notFound = await h.fetch("/nope");
    expect(notFound.status).toBe(404);
    expect(await notFound.text()).toBe("Not Found");
  });

  test("the gateway URL works with plain fetch", async () => {
    t = await setupTest(registry);
    const url = await t.client.api.getOrCreate(["gw"]).getGatewayUrl();
    const res = await fetch(`${url}/request/count`);
    expect(await res.json()).toEqual({ count: 0, q: null });
  });

  test("errors in onRequest are internal_error; void means not handled; no handler is 404", async () => {
    t = await setupTest(registry);
    const boom = await t.client.api.getOrCreate(["e"]).fetch("/boom");
    expect(boom.status).toBe(500);
    const text = await boom.text();
    expect(text).toContain("internal_error");
    expect(text).not.toContain("hidden detail");
    // The detail is in the server log instead.
    expect(logger.find("error", "internal error")?.fields.error).toMatchObject({
      message: "hidden detail",
    });
    const pass = await t.client.api.getOrCreate(["e"]).fetch("/pass");
    expect(pass.status).toBe(404);
    const none = await t.client.plain.getOrCreate(["e"]).fetch("/");
    expect(none.status).toBe(404);
  });
});
