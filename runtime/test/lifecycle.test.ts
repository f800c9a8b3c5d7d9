// Lifecycle order, sleep and wake, destroy, and the timeouts of the options table.
import { actor, setup } from "troupe";
import { captureLogger, setupTest, type TestRuntime, waitFor } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { logged } from "./logged.js";

const events: string[] = [];
const tick = () => new Promise((r) => setTimeout(r, 20));

const tracked = actor({
  createState: (_c, input: { start?: number } | undefined) => {
    events.push("createState");
    return { count: input?.start ?? 0, aborted: 0 };
  },
  onCreate: (_c, input) => {
    events.push(`onCreate:${JSON.stringify(input ?? null)}`);
  },
  createVars: () => {
    events.push("createVars");
    return { wokenAt: Date.now(), scratch: 0 };
  },
  onWake: () => {
    events.push("onWake");
  },
  onSleep: (c) => {
    events.push(`onSleep:${c.abortSignal.aborted}`);
  },
  onDestroy: () => {
    events.push("onDestroy");
  },
  onStateChange: (_c, s) => {
    events.push(`onStateChange:${s.count}`);
  },
  onBeforeActionResponse: <Out>(_c: unknown, name: string, _args: unknown[], output: Out): Out => {
    if (name === "wrapped") return { wrapped: output } as Out;
    return output;
  },
  actions: {
    increment: (c, n: number) => {
      c.state.count += n;
      c.state.count += 0; // a no-op write does not fire onStateChange twice
      return c.state.count;
    },
    get: (c) => c.state.count,
    setVar: (c, v: number) => {
      c.vars.scratch = v;
    },
    getVar: (c) => c.vars.scratch,
    wrapped: () => 7,
    destroy: (c) => {
      c.destroy();
      return "bye";
    },
    background: (c, ms: number) => {
      c.waitUntil(new Promise((r) => setTimeout(r, ms)));
    },
    sleepNow: (c) => {
      c.sleep();
    },
  },
  options: { sleepTimeout: 1000 },
});

const insomniac = actor({
  state: { n: 0 },
  onSleep: () => {
    events.push("insomniac:onSleep");
  },
  actions: { hit: (c) => ++c.state.n },
  options: { noSleep: true, sleepTimeout: 100 },
});

const watched = actor({
  state: { n: 0 },
  onDisconnect: () => {
    events.push("watched:onDisconnect");
  },
  onSleep: () => {
    events.push("watched:onSleep");
  },
  actions: { get: (c) => c.state.n },
  options: { sleepTimeout: 1000 },
});

const slowHooks = actor({
  state: { n: 0 },
  createVars: async (): Promise<{ ok: boolean }> => {
    if (events.includes("slow-vars")) await new Promise(() => {});
    return { ok: true };
  },
  onSleep: () => new Promise<void>(() => {}),
  actions: {
    hit: (c) => ++c.state.n,
    abortable: (c) =>
      new Promise<string>((resolve) => {
        events.push("abortable running");
        c.abortSignal.addEventListener("abort", () => {
          events.push("aborted");
          resolve("aborted");
        });
      }),
  },
  options: {
    sleepTimeout: 500,
    onSleepTimeout: 200,
    createVarsTimeout: 300,
    actionTimeout: 60_000,
  },
});

const logger = captureLogger();
const registry = setup({ use: { tracked, insomniac, slowHooks, watched }, logger });
let t: TestRuntime<typeof registry>;
beforeEach(() => logger.clear());
afterEach(() => t?.close());

describe("lifecycle", () => {
  test("create runs createState, onCreate, createVars, onWake in that order, once", async () => {
    t = await setupTest(registry);
    events.length = 0;
    const h = t.client.tracked.getOrCreate(["a"], { createWithInput: { start: 5 } });
    expect(await h.increment(1)).toBe(6);
    await tick();
    expect(events).toEqual([
      "createState",
      'onCreate:{"start":5}',
      "createVars",
      "onWake",
      "onStateChange:6",
    ]);
  });

  test("sleep after sleepTimeout of idleness, wake on the next call with state kept and vars rebuilt", async () => {
    t = await setupTest(registry);
    const h = t.client.tracked.getOrCreate(["s"]);
    await h.increment(3);
    await h.setVar(99);
    events.length = 0;
    await t.clock.advance(999);
    expect(events).toEqual([]);
    await t.clock.advance(2);
    await tick();
    expect(events).toEqual(["onSleep:true"]);
    expect(t.engine.placement.liveCount).toBe(0);
    events.length = 0;
    expect(await h.get()).toBe(3);
    expect(await h.getVar()).toBe(0);
    expect(events).toEqual(["createVars", "onWake"]);
  });

  test("activity resets the idle countdown", async () => {
    t = await setupTest(registry);
    const h = t.client.tracked.getOrCreate(["busy"]);
    await h.increment(1);
    for (let i = 0; i < 5; i++) {
      await t.clock.advance(600);
      await h.get();
    }
    expect(t.engine.placement.liveCount).toBe(1);
    // The countdown runs from the last call, not from the first timer armed.
    events.length = 0;
    await t.clock.advance(999);
    await tick();
    expect(t.engine.placement.liveCount).toBe(1);
    await t.clock.advance(2);
    await tick();
    expect(events).toEqual(["onSleep:true"]);
    expect(t.engine.placement.liveCount).toBe(0);
  });

  test("a connection keeps the actor awake; the countdown starts when the last one closes", async () => {
    t = await setupTest(registry);
    const conn = t.client.watched.getOrCreate(["conn"]).connect();
    await conn.get();
    events.length = 0;
    await t.clock.advance(5000);
    expect(t.engine.placement.liveCount).toBe(1);
    await conn.dispose();
    await waitFor(() => expect(events).toEqual(["watched:onDisconnect"]));
    await t.clock.advance(999);
    await tick();
    expect(t.engine.placement.liveCount).toBe(1);
    await t.clock.advance(2);
    await tick();
    expect(events).toEqual(["watched:onDisconnect", "watched:onSleep"]);
  });

  test("pending waitUntil keeps the actor awake until it settles", async () => {
    t = await setupTest(registry);
    const h = t.client.tracked.getOrCreate(["bg"]);
    await h.background(150);
    await t.clock.advance(5000);
    expect(t.engine.placement.liveCount).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    await t.clock.advance(1001);
    await tick();
    expect(t.engine.placement.liveCount).toBe(0);
  });

  test("c.sleep() puts the actor to sleep once idle", async () => {
    t = await setupTest(registry);
    const h = t.client.tracked.getOrCreate(["nap"]);
    await h.increment(2);
    events.length = 0;
    await h.sleepNow();
    await tick();
    expect(events).toEqual(["onSleep:true"]);
    expect(await h.get()).toBe(2);
  });

  test("noSleep keeps the actor awake", async () => {
    t = await setupTest(registry);
    await t.client.insomniac.getOrCreate(["x"]).hit();
    events.length = 0;
    await t.clock.advance(60_000);
    expect(events).toEqual([]);
    expect(t.engine.placement.liveCount).toBe(1);
  });

  test("destroy runs onDestroy, deletes the state; get fails and getOrCreate starts fresh", async () => {
    t = await setupTest(registry);
    const h = t.client.tracked.getOrCreate(["doomed"]);
    await h.increment(10);
    const id = await h.resolve();
    events.length = 0;
    expect(await h.destroy()).toBe("bye");
    await tick();
    expect(events).toContain("onDestroy");
    const gone = await t.client.tracked
      .get(["doomed"])
      .get()
      .catch((e) => e);
    expect(gone.code).toBe("actor_not_found");
    const byId = await t.client.tracked
      .getForId(id)
      .get()
      .catch((e) => e);
    expect(byId.code).toBe("actor_not_found");
    expect(await h.get()).toBe(0);
    expect(await h.resolve()).not.toBe(id);
  });

  test("destroy does not wait for open connections: they are closed as destroyed", async () => {
    t = await setupTest(registry);
    const h = t.client.tracked.getOrCreate(["doomed-with-listeners"]);
    const conn = h.connect();
    const closes: unknown[] = [];
    conn.onError((e) => closes.push([e.code, (e.metadata as { code?: number } | null)?.code]));
    await waitFor(() => conn.status === "connected");
    events.length = 0;
    expect(await h.destroy()).toBe("bye");
    await waitFor(() => conn.status === "disconnected", { what: "the connection closed" });
    expect(events).toContain("onDestroy");
    // Ended for good, with the close code that says "destroyed": calls fail at once.
    const ended = await conn.get().catch((e) => e);
    expect([ended.code, ended.metadata?.code]).toEqual(["connection_closed", 4002]);
    // Reported to onError once (and so not printed as a warning).
    expect(closes).toEqual([["connection_closed", 4002]]);
    const gone = await t.client.tracked
      .get(["doomed-with-listeners"])
      .get()
      .catch((e) => e);
    expect(gone.code).toBe("actor_not_found");
    await conn.dispose();
  });

  test("onBeforeActionResponse can transform output", async () => {
    t = await setupTest(registry);
    expect(await t.client.tracked.getOrCreate(["w"]).wrapped()).toEqual({ wrapped: 7 });
  });

  test("shutdown fires abortSignal for running actions; onSleepTimeout bounds a hanging onSleep", async () => {
    t = await setupTest(registry);
    const h = t.client.slowHooks.getOrCreate(["x"]);
    await h.hit();
    events.length = 0;
    void h.abortable().catch(() => {});
    // The action must be running before the shutdown (on a busy machine its request takes a
    // while to arrive), and the abort is awaited rather than expected after a fixed pause.
    await waitFor(() => events.includes("abortable running"), { what: "the action running" });
    const closing = t.close();
    await waitFor(() => events.includes("aborted"), { what: "the action's abortSignal" });
    await t.clock.advance(201);
    await closing;
    expect(logged(logger, "key")).toEqual([
      {
        level: "error",
        message: "onSleep failed",
        key: ["x"],
        error: "onSleep did not finish within 200 ms",
      },
    ]);
  });

  test("createVarsTimeout fails a wake whose createVars hangs", async () => {
    t = await setupTest(registry);
    const h = t.client.slowHooks.getOrCreate(["v"]);
    await h.hit();
    await t.clock.advance(501);
    await t.clock.advance(201);
    await tick();
    events.push("slow-vars");
    const pending = h.hit().catch((e) => e);
    await tick();
    await t.clock.advance(301);
    const err = await pending;
    events.length = 0;
    expect(err.code).toBe("internal_error");
    // The first sleep's onSleep hung past onSleepTimeout; the wake's createVars past its own.
    expect(logged(logger, "key")).toEqual([
      {
        level: "error",
        message: "onSleep failed",
        key: ["v"],
        error: "onSleep did not finish within 200 ms",
      },
      {
        level: "error",
        message: "internal error",
        key: undefined, // logged by the request, which names the action instead
        error: "createVars did not finish within 300 ms",
      },
    ]);
  });
});
