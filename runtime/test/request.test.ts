// onRequest, reached through handle.fetch() and the gateway URL, on Node and on workerd.
import { captureLogger, waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { requestSuiteRegistry } from "./fixtures/suites/request.js";
import { loggedOn, type Served, serve, TARGETS } from "./spec-targets.js";

const logger = captureLogger();
const registry = requestSuiteRegistry(logger);
let t: Served<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

// On workerd the actors outlive a test (one process per file): each test uses keys of its own.
describe.each(TARGETS)("onRequest on %s", (target) => {
  test("handle.fetch reaches onRequest with path, method, query and body", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
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
    t = await serve(target, registry);
    const url = await t.client.api.getOrCreate(["gw"]).getGatewayUrl();
    const res = await fetch(`${url}/request/count`);
    expect(await res.json()).toEqual({ count: 0, q: null });
  });

  test("errors in onRequest are internal_error; void means not handled; no handler is 404", async () => {
    t = await serve(target, registry);
    const boom = await t.client.api.getOrCreate(["e"]).fetch("/boom");
    expect(boom.status).toBe(500);
    const text = await boom.text();
    expect(text).toContain("internal_error");
    expect(text).not.toContain("hidden detail");
    // The detail is in the server log instead (on workerd, the Worker's; it logs every suite's).
    const mine = () =>
      loggedOn(t!, logger, ["path"], (line) => line.message === "internal error").filter(
        (line) => line.path === undefined || String(line.path).includes("/request-suite/"),
      );
    await waitFor(() => mine().length > 0, { timeout: 60_000, what: "the log line" });
    expect(mine().map((line) => line.error)).toEqual(["hidden detail"]);
    const pass = await t.client.api.getOrCreate(["e"]).fetch("/pass");
    expect(pass.status).toBe(404);
    const none = await t.client.plain.getOrCreate(["e"]).fetch("/");
    expect(none.status).toBe(404);
  });
});
