// Durable alarms: c.schedule.after / at, waking sleepers, restarts and kill -9. On Node (manual
// clock) and on workerd (the Durable Object alarm, in real time); restarts of Node's own storage
// and processes are Node only (workerd's restarts are in cloudflare.test.ts).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "troupe/client";
import { captureLogger, ManualClock, setupTest, type TestRuntime, waitFor } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { registry as alarmRegistry } from "./fixtures/alarm-server.js";
import { scheduleSuiteRegistry } from "./fixtures/suites/schedule.js";
import { loggedOn, nodeOnly, type Served, serve, TARGETS } from "./spec-targets.js";
import { spawnServer } from "./support.js";

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));
const SLOW = { timeout: 60_000, interval: 50 };

const logger = captureLogger();
const registry = scheduleSuiteRegistry(logger);
let t: Served<typeof registry> | undefined;
beforeEach(() => logger.clear());
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/**
 * Lets `ms` pass for the actors: Node's manual clock moves; on workerd a Durable Object alarm runs
 * on the platform's clock, which a test cannot move, so the time passes for real and the test
 * waits for what it expects instead.
 */
async function elapse(ms: number): Promise<void> {
  if (t?.clock) await t.clock.advance(ms);
}

/** The reminder's log, once it has `count` entries. */
async function logOf(h: { log(): Promise<string[]> }, count: number): Promise<string[]> {
  return waitFor(
    async () => {
      const log = await h.log();
      return log.length >= count ? log : undefined;
    },
    { ...SLOW, what: `${count} log entries` },
  );
}

// On workerd the actors outlive a test (one process per file): each test uses keys of its own.
describe.each(TARGETS)("schedule on %s", (target) => {
  test("after(ms) runs the action later; at(timestamp) at that time; in time order", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
    const now = () => t!.clock?.now() ?? Date.now();
    const h = t.client.reminder.getOrCreate(["a"]);
    await h.setReminder("stretch", 500);
    if (t.clock) {
      // Not a moment early (the manual clock can tell).
      await t.clock.advance(499);
      expect(await h.log()).toEqual([]);
    }
    await elapse(2);
    expect(await logOf(h, 1)).toEqual(["stretch"]);
    await h.setReminderAt("drink water", now() + 250);
    await elapse(251);
    expect(await logOf(h, 2)).toEqual(["stretch", "drink water"]);
    await h.many();
    await elapse(400);
    expect((await logOf(h, 5)).slice(2)).toEqual(["first", "second", "third"]);
  });

  nodeOnly(
    target,
    "sleep on Workers is eviction, which a test cannot observe from outside; an alarm waking a sleeping or evicted actor is in cloudflare.test.ts",
  )("an alarm wakes a sleeping actor", async () => {
    const rt = await setupTest(registry);
    try {
      const h = rt.client.reminder.getOrCreate(["sleepy"]);
      await h.setReminder("wake up", 60_000);
      await rt.clock.advance(1001);
      await tick();
      expect(rt.engine.placement.liveCount).toBe(0); // asleep
      await rt.clock.advance(59_000); // just past the alarm, before the next idle timeout
      await tick();
      expect(rt.engine.placement.liveCount).toBe(1); // woken by its alarm
      expect(await h.log()).toEqual(["wake up"]);
    } finally {
      await rt.close();
    }
  });

  test("a failing scheduled action is logged and not retried", async () => {
    t = await serve(target, registry);
    const h = t.client.reminder.getOrCreate(["f"]);
    await h.failing();
    await elapse(60);
    await elapse(10_000);
    // The note three seconds later has run: a retry of the failed action would have come first.
    expect(await logOf(h, 1)).toEqual(["after the failure"]);
    expect(await h.failures()).toBe(1);
    const mine = () =>
      loggedOn(t!, logger, ["key", "action"], (line) => JSON.stringify(line.key) === '["f"]');
    await waitFor(() => mine().length > 0, { ...SLOW, what: "the failure to be logged" });
    expect(mine()).toEqual([
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
    t = await serve(target, registry);
    const h = t.client.reminder.getOrCreate(["c"]);
    const { id, pending } = await h.cancellable();
    expect(pending).toBe(1);
    expect(await h.cancel(id)).toBe(true);
    expect(await h.cancel(id)).toBe(false);
    // A later reminder has run: the cancelled one, due before it, did not.
    await h.setReminder("later", 300);
    await elapse(400);
    expect(await logOf(h, 1)).toEqual(["later"]);
    expect((await h.badTarget().catch((e) => e)).code).toBe("action_not_found");
  });

  nodeOnly(target, "the file driver; alarms across a workerd restart are in cloudflare.test.ts")(
    "alarms survive a restart (file driver) and fire after it",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "troupe-alarm-"));
      const clock = new ManualClock();
      let rt: TestRuntime<typeof registry> | undefined;
      try {
        rt = await setupTest(registry, { storage: { driver: "file", path: dir }, clock });
        await rt.client.reminder.getOrCreate(["r"]).setReminder("after restart", 5000);
        await rt.close();
        rt = await setupTest(registry, { storage: { driver: "file", path: dir }, clock });
        expect(rt.engine.placement.liveCount).toBe(0);
        await clock.advance(5001);
        await tick();
        expect(await rt.client.reminder.get(["r"]).log()).toEqual(["after restart"]);
      } finally {
        await rt?.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  nodeOnly(
    target,
    "kills a Node server process; workerd killed and started again is in cloudflare.test.ts",
  )(
    "an alarm set before kill -9 fires after the restart",
    async () => {
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
    },
    30_000,
  );
});
