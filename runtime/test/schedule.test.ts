// Durable alarms: c.schedule.after / at, waking sleepers, restarts and kill -9.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { actor, setup } from "troupe";
import { createClient } from "troupe/client";
import { captureLogger, ManualClock, setupTest, type TestRuntime, waitFor } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { registry as alarmRegistry } from "./fixtures/alarm-server.js";
import { logged } from "./logged.js";
import { spawnServer } from "./support.js";

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

const reminder = actor({
  state: { message: "", log: [] as string[], failures: 0 },
  actions: {
    setReminder: (c, message: string, delayMs: number) => {
      c.state.message = message;
      c.schedule.after(delayMs, "sendReminder");
    },
    setReminderAt: (c, message: string, timestamp: number) => {
      c.state.message = message;
      c.schedule.at(timestamp, "sendReminder");
    },
    sendReminder: (c) => {
      c.state.log.push(c.state.message);
      c.broadcast("reminder", { message: c.state.message });
    },
    note: (c, text: string) => {
      c.state.log.push(text);
    },
    many: async (c) => {
      await c.schedule.after(300, "note", "third");
      await c.schedule.after(100, "note", "first");
      await c.schedule.after(200, "note", "second");
    },
    failing: async (c) => {
      await c.schedule.after(50, "explode");
    },
    explode: (c) => {
      c.state.failures++;
      throw new Error("boom");
    },
    cancellable: async (c) => {
      const id = await c.schedule.after(100, "note", "cancelled?");
      return { id, pending: c.schedule.list().length };
    },
    cancel: (c, id: string) => c.schedule.cancel(id),
    badTarget: async (c) => c.schedule.after(10, "noSuchAction"),
    log: (c) => c.state.log,
    failures: (c) => c.state.failures,
  },
  options: { sleepTimeout: 1000 },
});

const logger = captureLogger();
const registry = setup({ use: { reminder }, logger });
let t: TestRuntime<typeof registry>;
beforeEach(() => logger.clear());
afterEach(() => t?.close());

describe("schedule", () => {
  test("after(ms) runs the action later; at(timestamp) at that time; in time order", async () => {
    t = await setupTest(registry);
    const h = t.client.reminder.getOrCreate(["a"]);
    await h.setReminder("stretch", 500);
    await t.clock.advance(499);
    expect(await h.log()).toEqual([]);
    await t.clock.advance(2);
    expect(await h.log()).toEqual(["stretch"]);
    await h.setReminderAt("drink water", t.clock.now() + 250);
    await t.clock.advance(251);
    expect(await h.log()).toEqual(["stretch", "drink water"]);
    await h.many();
    await t.clock.advance(400);
    expect((await h.log()).slice(2)).toEqual(["first", "second", "third"]);
  });

  test("an alarm wakes a sleeping actor", async () => {
    t = await setupTest(registry);
    const h = t.client.reminder.getOrCreate(["sleepy"]);
    await h.setReminder("wake up", 60_000);
    await t.clock.advance(1001);
    await tick();
    expect(t.engine.placement.liveCount).toBe(0); // asleep
    await t.clock.advance(59_000); // just past the alarm, before the next idle timeout
    await tick();
    expect(t.engine.placement.liveCount).toBe(1); // woken by its alarm
    expect(await h.log()).toEqual(["wake up"]);
  });

  test("a failing scheduled action is logged and not retried", async () => {
    t = await setupTest(registry);
    const h = t.client.reminder.getOrCreate(["f"]);
    await h.failing();
    await t.clock.advance(60);
    await t.clock.advance(10_000);
    expect(await h.failures()).toBe(1);
    await waitFor(() => logger.entries.length > 0, { what: "the failure to be logged" });
    expect(logged(logger, "key", "action")).toEqual([
      {
        level: "error",
        message: "scheduled action failed; it will not be retried",
        key: ["f"],
        action: "explode",
        error: "boom",
      },
    ]);
  });

  test("cancel removes a pending alarm; scheduling an unknown action is refused", async () => {
    t = await setupTest(registry);
    const h = t.client.reminder.getOrCreate(["c"]);
    const { id, pending } = await h.cancellable();
    expect(pending).toBe(1);
    expect(await h.cancel(id)).toBe(true);
    expect(await h.cancel(id)).toBe(false);
    await t.clock.advance(200);
    expect(await h.log()).toEqual([]);
    expect((await h.badTarget().catch((e) => e)).code).toBe("action_not_found");
  });

  test("alarms survive a restart (file driver) and fire after it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "troupe-alarm-"));
    const clock = new ManualClock();
    try {
      t = await setupTest(registry, { storage: { driver: "file", path: dir }, clock });
      await t.client.reminder.getOrCreate(["r"]).setReminder("after restart", 5000);
      await t.close();
      t = await setupTest(registry, { storage: { driver: "file", path: dir }, clock });
      expect(t.engine.placement.liveCount).toBe(0);
      await clock.advance(5001);
      await tick();
      expect(await t.client.reminder.get(["r"]).log()).toEqual(["after restart"]);
    } finally {
      await t.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("an alarm set before kill -9 fires after the restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "troupe-alarm-kill-"));
    const start = () =>
      spawnServer(join(import.meta.dirname, "fixtures/alarm-server.ts"), {
        TROUPE_STORAGE: "file",
        TROUPE_DATA_DIR: dir,
      });
    let server = await start();
    try {
      const client = createClient<typeof alarmRegistry>(server.url);
      expect(await client.reminder.getOrCreate(["k"]).remind(1500, "survived")).toBe("scheduled");
      await server.kill();
      server = await start();
      const after = createClient<typeof alarmRegistry>(server.url);
      const deadline = Date.now() + 10_000;
      let fired: string[] = [];
      while (Date.now() < deadline) {
        fired = await after.reminder.get(["k"]).fired();
        if (fired.length) break;
        await tick(200);
      }
      expect(fired).toEqual(["survived"]);
    } finally {
      await server.kill();
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
