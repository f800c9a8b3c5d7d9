// Actions over HTTP: typed calls, context, outputs, and each way an action fails, as a client sees
// it, on Node and on workerd.
import { ActorError, createClient } from "troupe/client";
import { captureLogger, waitFor } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { actionsSuiteRegistry } from "./fixtures/suites/actions.js";
import type { LoggedLine } from "./logged.js";
import { loggedOn, type Served, serve, TARGETS } from "./spec-targets.js";

const logger = captureLogger();
const registry = actionsSuiteRegistry({ logger });
const devRegistry = actionsSuiteRegistry({ logger, exposeErrors: true });
let t: Served<typeof registry> | undefined;

const crashEntry = {
  level: "error",
  message: "internal error",
  action: "crash",
  error: "secret database password in this message",
};

beforeEach(() => logger.clear());
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** The "internal error" lines of the registry at `basePath` (on workerd the Worker logs every suite's). */
async function internalErrors(basePath: string, count: number): Promise<LoggedLine[]> {
  const mine = () =>
    loggedOn(
      t!,
      logger,
      ["action", "path"],
      (line) =>
        line.message === "internal error" &&
        (line.path === undefined || String(line.path).startsWith(`${basePath}/`)),
    ).map(({ path: _path, ...line }) => line);
  // workerd's output reaches this process through a pipe, maybe after the reply.
  await waitFor(() => mine().length >= count, { timeout: 60_000, what: "the log lines" });
  return mine();
}

// On workerd the actors outlive a test (one process per file): each test uses keys of its own
// where what it asserts depends on a fresh actor.
describe.each(TARGETS)("actions over HTTP on %s", (target) => {
  test("the spec's counter: typed calls, state kept between calls", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
    const handle = t.client.counter.getOrCreate(["my-counter"]);
    expect(await handle.increment(1)).toBe(1);
    expect(await handle.increment(41)).toBe(42);
    expect(await t.client.counter.get(["my-counter"]).getCount()).toBe(42);
  });

  test("await on a handle does not call an action named then", async () => {
    t = await serve(target, registry);
    const handle = await t.client.counter.getOrCreate();
    expect(await handle.increment(2)).toBe(2);
  });

  test("context exposes name, key and id", async () => {
    t = await serve(target, registry);
    const h = t.client.counter.getOrCreate(["org", "room"]);
    const who = await h.whoAmI();
    expect(who.name).toBe("counter");
    expect(who.key).toEqual(["org", "room"]);
    expect(await h.resolve()).toBe(who.id);
  });

  test("undefined output arrives as null-ish, not as an error", async () => {
    t = await serve(target, registry);
    expect(await t.client.counter.getOrCreate(["x"]).nothing()).toBeNull();
  });

  test("UserError reaches the client with code and metadata", async () => {
    t = await serve(target, registry);
    const err = await t.client.counter
      .getOrCreate(["x"])
      .fail()
      .catch((e) => e);
    expect(err).toBeInstanceOf(ActorError);
    expect(err.code).toBe("username_too_short");
    expect(err.message).toBe("Username too short");
    expect(err.metadata).toEqual({ minLength: 3, actual: 2 });
  });

  test("UserError without a code gets user_error", async () => {
    t = await serve(target, registry);
    const err = await t.client.counter
      .getOrCreate(["x"])
      .plain()
      .catch((e) => e);
    expect(err.code).toBe("user_error");
    expect(err.message).toBe("plain");
  });

  test("any other error becomes internal_error without leaking the message", async () => {
    t = await serve(target, registry);
    const res = await fetch(`${t.endpoint}/actors/action/crash`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        actor: { name: "counter", key: ["x"], mode: "getOrCreate" },
        args: [],
      }),
    });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain("secret");
    expect(text).not.toContain("at ");
    const body = JSON.parse(text);
    expect(body.error.code).toBe("internal_error");
    const err = await t.client.counter
      .getOrCreate(["x"])
      .crash()
      .catch((e) => e);
    expect(err).toBeInstanceOf(ActorError);
    expect(err.code).toBe("internal_error");
    // The detail clients do not see is in the server log, once per call.
    expect(await internalErrors(registry.basePath, 2)).toEqual([crashEntry, crashEntry]);
  });

  test("exposeErrors shows internal messages (development only)", async () => {
    t = await serve(target, devRegistry);
    const err = await t.client.counter
      .getOrCreate(["x"])
      .crash()
      .catch((e) => e);
    expect(err.code).toBe("internal_error");
    expect(err.message).toContain("secret database password");
    expect(await internalErrors(devRegistry.basePath, 1)).toEqual([crashEntry]);
  });

  test("many calls in flight at once all succeed", async () => {
    t = await serve(target, registry);
    const h = t.client.counter.getOrCreate(["busy"]);
    const results = await Promise.all(Array.from({ length: 100 }, () => h.increment(1)));
    expect(new Set(results).size).toBe(100);
    expect(await h.getCount()).toBe(100);
  });
});

describe("actions with no server", () => {
  test("a client pointed at a dead server fails with network_error", async () => {
    const client = createClient<typeof registry>("http://127.0.0.1:9");
    const err = await client.counter
      .getOrCreate(["x"])
      .getCount()
      .catch((e) => e);
    expect(err).toBeInstanceOf(ActorError);
    expect(err.code).toBe("network_error");
  });
});
