import { actor, setup, UserError } from "troupe";
import { ActorError, createClient } from "troupe/client";
import { captureLogger, setupTest, type TestRuntime } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { logged } from "./logged.js";

const counter = actor({
  state: { count: 0 },
  actions: {
    increment: (c, amount: number) => {
      c.state.count += amount;
      c.broadcast("count", c.state.count);
      return c.state.count;
    },
    getCount: (c) => c.state.count,
    whoAmI: (c) => ({ name: c.name, key: c.key, id: c.actorId }),
    nothing: () => undefined,
    fail: () => {
      throw new UserError("Username too short", {
        code: "username_too_short",
        metadata: { minLength: 3, actual: 2 },
      });
    },
    crash: () => {
      throw new Error("secret database password in this message");
    },
    plain: () => {
      throw new UserError("plain");
    },
    slow: async (c, ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return c.state.count;
    },
  },
});

const logger = captureLogger();
const registry = setup({ use: { counter }, logger });
let t: TestRuntime<typeof registry>;

const crashEntry = {
  level: "error",
  message: "internal error",
  action: "crash",
  error: "secret database password in this message",
};

beforeEach(() => logger.clear());
afterEach(async () => {
  await t?.close();
});

describe("actions over HTTP", () => {
  test("the spec's counter: typed calls, state kept between calls", async () => {
    t = await setupTest(registry);
    const handle = t.client.counter.getOrCreate(["my-counter"]);
    expect(await handle.increment(1)).toBe(1);
    expect(await handle.increment(41)).toBe(42);
    expect(await t.client.counter.get(["my-counter"]).getCount()).toBe(42);
  });

  test("await on a handle does not call an action named then", async () => {
    t = await setupTest(registry);
    const handle = await t.client.counter.getOrCreate();
    expect(await handle.increment(2)).toBe(2);
  });

  test("context exposes name, key and id", async () => {
    t = await setupTest(registry);
    const h = t.client.counter.getOrCreate(["org", "room"]);
    const who = await h.whoAmI();
    expect(who.name).toBe("counter");
    expect(who.key).toEqual(["org", "room"]);
    expect(await h.resolve()).toBe(who.id);
  });

  test("undefined output arrives as null-ish, not as an error", async () => {
    t = await setupTest(registry);
    expect(await t.client.counter.getOrCreate(["x"]).nothing()).toBeNull();
  });

  test("UserError reaches the client with code and metadata", async () => {
    t = await setupTest(registry);
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
    t = await setupTest(registry);
    const err = await t.client.counter
      .getOrCreate(["x"])
      .plain()
      .catch((e) => e);
    expect(err.code).toBe("user_error");
    expect(err.message).toBe("plain");
  });

  test("any other error becomes internal_error without leaking the message", async () => {
    t = await setupTest(registry);
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
    expect(logged(logger, "action")).toEqual([crashEntry, crashEntry]);
  });

  test("exposeErrors shows internal messages (development only)", async () => {
    const dev = setup({ use: { counter }, exposeErrors: true, logger });
    t = await setupTest(dev);
    const err = await t.client.counter
      .getOrCreate(["x"])
      .crash()
      .catch((e) => e);
    expect(err.code).toBe("internal_error");
    expect(err.message).toContain("secret database password");
    expect(logged(logger, "action")).toEqual([crashEntry]);
  });

  test("many calls in flight at once all succeed", async () => {
    t = await setupTest(registry);
    const h = t.client.counter.getOrCreate(["busy"]);
    const results = await Promise.all(Array.from({ length: 100 }, () => h.increment(1)));
    expect(new Set(results).size).toBe(100);
    expect(await h.getCount()).toBe(100);
  });

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
