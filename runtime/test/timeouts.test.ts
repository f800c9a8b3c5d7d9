// The options table's remaining timers: waitUntilTimeout, onDestroyTimeout, stateSaveInterval.
import { actor, type CommitBatch, setup } from "troupe";
import { captureLogger, setupTest, type TestRuntime } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { MemoryDriver } from "../src/storage/memory/index.js";
import { logged } from "./logged.js";

class RecordingDriver extends MemoryDriver {
  batches: CommitBatch[] = [];
  override async commit(batch: CommitBatch): Promise<void> {
    this.batches.push(batch);
    return super.commit(batch);
  }
}

const events: string[] = [];
const tick = () => new Promise((r) => setTimeout(r, 20));

const worker = actor({
  state: { n: 0 },
  onDestroy: () => new Promise<void>(() => {}),
  onSleep: () => {
    events.push("onSleep");
  },
  actions: {
    hangForever: (c) => {
      c.waitUntil(new Promise(() => {}));
    },
    laterChange: (c) => {
      // A change made after the action returned, outside any action.
      c.runInBackground(
        new Promise<void>((r) =>
          setTimeout(() => {
            c.state.n = 42;
            r();
          }, 10),
        ),
      );
    },
    destroy: (c) => c.destroy(),
    n: (c) => c.state.n,
  },
  options: {
    waitUntilTimeout: 300,
    onDestroyTimeout: 400,
    stateSaveInterval: 5000,
    sleepTimeout: 100_000,
  },
});

const logger = captureLogger();
const registry = setup({ use: { worker }, logger });
let t: TestRuntime<typeof registry>;
beforeEach(() => logger.clear());
afterEach(() => t?.close());

describe("option timers", () => {
  test("waitUntilTimeout bounds how long a stop waits for background work", async () => {
    t = await setupTest(registry);
    await t.client.worker.getOrCreate(["w"]).hangForever();
    events.length = 0;
    const closing = t.close();
    await tick();
    expect(events).toEqual(["onSleep"]);
    await t.clock.advance(301);
    await closing; // finished although the promise never settles
    expect(logged(logger, "key")).toEqual([
      {
        level: "warn",
        message: "background work still running at stop",
        key: ["w"],
        error: "waitUntil did not finish within 300 ms",
      },
    ]);
  });

  test("onDestroyTimeout bounds a hanging onDestroy, and the actor is still deleted", async () => {
    t = await setupTest(registry);
    const h = t.client.worker.getOrCreate(["d"]);
    await h.n();
    await h.destroy();
    await tick();
    await t.clock.advance(401);
    await tick();
    expect(
      (
        await t.client.worker
          .get(["d"])
          .n()
          .catch((e) => e)
      ).code,
    ).toBe("actor_not_found");
    expect(logged(logger, "key")).toEqual([
      {
        level: "error",
        message: "onDestroy failed",
        key: ["d"],
        error: "onDestroy did not finish within 400 ms",
      },
    ]);
  });

  test("changes made outside actions are saved within stateSaveInterval", async () => {
    const driver = new RecordingDriver();
    t = await setupTest(registry, { storage: driver });
    const h = t.client.worker.getOrCreate(["s"]);
    await h.laterChange();
    await tick();
    const saved = () =>
      driver.batches.some((b) => b.states.some((s) => JSON.parse(s.data).state.n === 42));
    expect(saved()).toBe(false);
    await t.clock.advance(5001);
    await tick();
    expect(saved()).toBe(true);
  });
});
