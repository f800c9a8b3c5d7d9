// Lifecycle order, sleep and wake, destroy, and the timeouts of the options table, on Node (manual
// clock) and on workerd (real time, inside a Durable Object kept in memory). What needs the manual
// clock to step around a timeout, the engine's live actors, or a server shutdown is Node only.
import { captureLogger, setupTest, waitFor } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { lifecycleOf, lifecycleSuiteRegistry } from "./fixtures/suites/lifecycle.js";
import { clearRecorded, recorded } from "./fixtures/suites/seen.js";
import { logged } from "./logged.js";
import { loggedOn, nodeOnly, type Served, serve, TARGETS } from "./spec-targets.js";

const tick = () => new Promise((r) => setTimeout(r, 20));
const SLOW = { timeout: 60_000, interval: 50 };

const logger = captureLogger();
const registry = lifecycleSuiteRegistry(logger);
let t: Served<typeof registry> | undefined;
beforeEach(() => logger.clear());
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** What the hooks of the actor `key` recorded since the last clear, once `done` holds for it. */
async function eventsWhen(
  key: string[],
  done: (events: string[]) => boolean,
  what: string,
): Promise<string[]> {
  return waitFor(
    async () => {
      const events = await t!.seen(lifecycleOf(key));
      return done(events) ? events : undefined;
    },
    { ...SLOW, what },
  );
}

/** Node: the manual clock moves; workerd: the time passes for real (see schedule.test.ts). */
async function elapse(ms: number): Promise<void> {
  if (t?.clock) await t.clock.advance(ms);
}

// On workerd the actors outlive a test (one process per file): each test uses keys of its own.
describe.each(TARGETS)("lifecycle on %s", (target) => {
  test("create runs createState, onCreate, createVars, onWake in that order, once", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
    await t.clearSeen(lifecycleOf(["a"]));
    const h = t.client.tracked.getOrCreate(["a"], { createWithInput: { start: 5 } });
    expect(await h.increment(1)).toBe(6);
    expect(await eventsWhen(["a"], (e) => e.includes("onStateChange:6"), "onStateChange")).toEqual([
      "createState",
      'onCreate:{"start":5}',
      "createVars",
      "onWake",
      "onStateChange:6",
    ]);
  });

  test("sleep after sleepTimeout of idleness, wake on the next call with state kept and vars rebuilt", async () => {
    t = await serve(target, registry);
    const h = t.client.tracked.getOrCreate(["s"]);
    await h.increment(3);
    await h.setVar(99);
    await t.clearSeen(lifecycleOf(["s"]));
    if (t.clock) {
      // Not a moment early (the manual clock can tell).
      await t.clock.advance(999);
      expect(await t.seen(lifecycleOf(["s"]))).toEqual([]);
    }
    await elapse(2);
    expect(await eventsWhen(["s"], (e) => e.length > 0, "onSleep")).toEqual(["onSleep:true"]);
    await t.clearSeen(lifecycleOf(["s"]));
    expect(await h.get()).toBe(3);
    expect(await h.getVar()).toBe(0);
    expect(await t.seen(lifecycleOf(["s"]))).toEqual(["createVars", "onWake"]);
  });

  nodeOnly(target, "steps the manual clock inside sleepTimeout and reads the engine's live actors")(
    "activity resets the idle countdown",
    async () => {
      const rt = await setupTest(registry);
      try {
        const h = rt.client.tracked.getOrCreate(["busy"]);
        await h.increment(1);
        for (let i = 0; i < 5; i++) {
          await rt.clock.advance(600);
          await h.get();
        }
        expect(rt.engine.placement.liveCount).toBe(1);
        // The countdown runs from the last call, not from the first timer armed.
        clearRecorded(lifecycleOf(["busy"]));
        await rt.clock.advance(999);
        await tick();
        expect(rt.engine.placement.liveCount).toBe(1);
        await rt.clock.advance(2);
        await tick();
        expect(recorded(lifecycleOf(["busy"]))).toEqual(["onSleep:true"]);
        expect(rt.engine.placement.liveCount).toBe(0);
      } finally {
        await rt.close();
      }
    },
  );

  nodeOnly(target, "steps the manual clock inside sleepTimeout and reads the engine's live actors")(
    "a connection keeps the actor awake; the countdown starts when the last one closes",
    async () => {
      const rt = await setupTest(registry);
      try {
        const conn = rt.client.watched.getOrCreate(["conn"]).connect();
        await conn.get();
        clearRecorded(lifecycleOf(["conn"]));
        await rt.clock.advance(5000);
        expect(rt.engine.placement.liveCount).toBe(1);
        await conn.dispose();
        await waitFor(() =>
          expect(recorded(lifecycleOf(["conn"]))).toEqual(["watched:onDisconnect"]),
        );
        await rt.clock.advance(999);
        await tick();
        expect(rt.engine.placement.liveCount).toBe(1);
        await rt.clock.advance(2);
        await tick();
        expect(recorded(lifecycleOf(["conn"]))).toEqual([
          "watched:onDisconnect",
          "watched:onSleep",
        ]);
      } finally {
        await rt.close();
      }
    },
  );

  nodeOnly(
    target,
    "steps the manual clock past sleepTimeout while waitUntil work runs and reads the engine's live actors; on Workers waitUntil keeps an object in memory only while it runs",
  )("pending waitUntil keeps the actor awake until it settles", async () => {
    const rt = await setupTest(registry);
    try {
      const h = rt.client.tracked.getOrCreate(["bg"]);
      await h.background(150);
      await rt.clock.advance(5000);
      expect(rt.engine.placement.liveCount).toBe(1);
      await new Promise((r) => setTimeout(r, 200));
      await rt.clock.advance(1001);
      await tick();
      expect(rt.engine.placement.liveCount).toBe(0);
    } finally {
      await rt.close();
    }
  });

  test("c.sleep() puts the actor to sleep once idle", async () => {
    t = await serve(target, registry);
    const h = t.client.tracked.getOrCreate(["nap"]);
    await h.increment(2);
    await t.clearSeen(lifecycleOf(["nap"]));
    await h.sleepNow();
    expect(await eventsWhen(["nap"], (e) => e.length > 0, "onSleep")).toEqual(["onSleep:true"]);
    expect(await h.get()).toBe(2);
  });

  nodeOnly(target, "a minute on the manual clock, and the engine's live actors")(
    "noSleep keeps the actor awake",
    async () => {
      const rt = await setupTest(registry);
      try {
        await rt.client.insomniac.getOrCreate(["x"]).hit();
        clearRecorded(lifecycleOf(["x"]));
        await rt.clock.advance(60_000);
        expect(recorded(lifecycleOf(["x"]))).toEqual([]);
        expect(rt.engine.placement.liveCount).toBe(1);
      } finally {
        await rt.close();
      }
    },
  );

  test("destroy runs onDestroy, deletes the state; get fails and getOrCreate starts fresh", async () => {
    t = await serve(target, registry);
    const h = t.client.tracked.getOrCreate(["doomed"]);
    await h.increment(10);
    const id = await h.resolve();
    await t.clearSeen(lifecycleOf(["doomed"]));
    expect(await h.destroy()).toBe("bye");
    await eventsWhen(["doomed"], (e) => e.includes("onDestroy"), "onDestroy");
    const gone = await waitFor(
      async () => {
        const err = await t!.client.tracked
          .get(["doomed"])
          .get()
          .catch((e) => e);
        return err?.code === "actor_not_found" ? err : undefined;
      },
      { ...SLOW, what: "the destroyed actor to be gone" },
    );
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
    t = await serve(target, registry);
    const h = t.client.tracked.getOrCreate(["doomed-with-listeners"]);
    const conn = h.connect();
    const closes: unknown[] = [];
    conn.onError((e) => closes.push([e.code, (e.metadata as { code?: number } | null)?.code]));
    await waitFor(() => conn.status === "connected", { ...SLOW, what: "the connection" });
    await t.clearSeen(lifecycleOf(["doomed-with-listeners"]));
    expect(await h.destroy()).toBe("bye");
    await waitFor(() => conn.status === "disconnected", { ...SLOW, what: "the connection closed" });
    await eventsWhen(["doomed-with-listeners"], (e) => e.includes("onDestroy"), "onDestroy");
    // Ended for good, with the close code that says "destroyed": calls fail at once.
    const ended = await conn.get().catch((e) => e);
    expect([ended.code, ended.metadata?.code]).toEqual(["connection_closed", 4002]);
    // Reported to onError once (and so not printed as a warning).
    expect(closes).toEqual([["connection_closed", 4002]]);
    const gone = await waitFor(
      async () => {
        const err = await t!.client.tracked
          .get(["doomed-with-listeners"])
          .get()
          .catch((e) => e);
        return err?.code === "actor_not_found" ? err : undefined;
      },
      { ...SLOW, what: "the destroyed actor to be gone" },
    );
    expect(gone.code).toBe("actor_not_found");
    await conn.dispose();
  });

  test("onBeforeActionResponse can transform output", async () => {
    t = await serve(target, registry);
    expect(await t.client.tracked.getOrCreate(["w"]).wrapped()).toEqual({ wrapped: 7 });
  });

  nodeOnly(
    target,
    "Workers have no shutdown: the platform evicts an object unannounced, running no hook",
  )(
    "shutdown fires abortSignal for running actions; onSleepTimeout bounds a hanging onSleep",
    async () => {
      const rt = await setupTest(registry);
      let closing: Promise<void> | undefined;
      try {
        await rt.client.slowHooks.getOrCreate(["x"]).hit();
        clearRecorded(lifecycleOf(["x"]));
        const h = rt.client.slowHooks.getOrCreate(["x"]);
        void h.abortable().catch(() => {});
        // The action must be running before the shutdown (on a busy machine its request takes a
        // while to arrive), and the abort is awaited rather than expected after a fixed pause.
        const seen = () => recorded(lifecycleOf(["x"]));
        await waitFor(() => seen().includes("abortable running"), { what: "the action running" });
        closing = rt.close();
        await waitFor(() => seen().includes("aborted"), { what: "the action's abortSignal" });
        await rt.clock.advance(201);
        await closing;
        expect(logged(logger, "key")).toEqual([
          {
            level: "error",
            message: "onSleep failed",
            key: ["x"],
            error: "onSleep did not finish within 200 ms",
          },
        ]);
      } finally {
        await (closing ?? rt.close());
      }
    },
  );

  test("createVarsTimeout fails a wake whose createVars hangs", async () => {
    t = await serve(target, registry);
    const h = t.client.slowHooks.getOrCreate(["v"]);
    await h.hit();
    await h.hangNextWake();
    // It falls asleep (its onSleep hangs past onSleepTimeout), then the next call wakes it.
    await elapse(501);
    await elapse(201);
    const mine = () =>
      loggedOn(
        t!,
        logger,
        ["key", "path"],
        (line) =>
          JSON.stringify(line.key) === '["v"]' ||
          // (Node's capturing logger is this registry's alone; the Worker logs every suite's.)
          (line.message === "internal error" &&
            (line.path === undefined || String(line.path).includes("/lifecycle-suite/"))),
      ).map(({ path: _path, ...line }) => line);
    await waitFor(() => mine().length > 0, { ...SLOW, what: "the hanging onSleep" });
    const pending = h.hit().catch((e) => e);
    if (t.clock) {
      await tick();
      await t.clock.advance(301);
    }
    const err = await pending;
    expect(err.code).toBe("internal_error");
    // The first sleep's onSleep hung past onSleepTimeout; the wake's createVars past its own.
    await waitFor(() => mine().length >= 2, { ...SLOW, what: "the failed wake's log line" });
    expect(mine()).toEqual([
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
