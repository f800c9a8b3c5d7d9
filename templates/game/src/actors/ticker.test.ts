import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_BEHIND, Ticker } from "./ticker.js";

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A ticker on the fake clock, and the times at which each member was stepped. */
function setup(period = 50) {
  const errors: unknown[] = [];
  const ticker = new Ticker(period, { now: () => Date.now(), onError: (e) => errors.push(e) });
  const log: string[] = [];
  const member =
    (name: string, work = 0) =>
    () => {
      log.push(`${name}@${Date.now()}`);
      if (work) vi.setSystemTime(Date.now() + work);
    };
  return { ticker, log, member, errors };
}

describe("Ticker", () => {
  it("steps every member in turn at each beat, on one timer", async () => {
    const { ticker, log, member } = setup();
    ticker.join(member("a"));
    ticker.join(member("b"));
    ticker.join(member("c"));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(log).toEqual(["a@50", "b@50", "c@50", "a@100", "b@100", "c@100"]);
    expect(vi.getTimerCount()).toBe(1);
  });

  it("keeps to the ideal schedule: a slow beat does not push the next ones back", async () => {
    const { ticker, log, member } = setup();
    ticker.join(member("slow", 30));
    ticker.join(member("b"));
    for (let i = 0; i < 4; i++) await vi.advanceTimersToNextTimerAsync();
    // Each beat takes 30 ms, yet beats start at 50, 100, 150, 200 (not 50, 130, 210).
    expect(log).toEqual([
      "slow@50",
      "b@80",
      "slow@100",
      "b@130",
      "slow@150",
      "b@180",
      "slow@200",
      "b@230",
    ]);
  });

  it("after a stall, starts the schedule again from now instead of rushing missed beats", async () => {
    const { ticker, log, member } = setup();
    let stalled = false;
    ticker.join(() => {
      log.push(`m@${Date.now()}`);
      if (!stalled) {
        stalled = true;
        vi.setSystemTime(Date.now() + (MAX_BEHIND + 2) * 50);
      }
    });
    ticker.join(member("b"));
    await vi.advanceTimersToNextTimerAsync();
    await vi.advanceTimersToNextTimerAsync();
    // The first beat ran at 50 and took 350 ms: the next is one period after it ended.
    expect(log.slice(0, 4)).toEqual(["m@50", "b@400", "m@450", "b@450"]);
  });

  it("tells each beat how late it started against the schedule (lateMs)", async () => {
    const { ticker } = setup();
    const late: number[] = [];
    let first = true;
    ticker.join(() => {
      late.push(ticker.lateMs);
      // The first beat overruns by 20 ms: the second, due at 100, can only start at 120.
      if (first) vi.setSystemTime(Date.now() + 70);
      first = false;
    });
    for (let i = 0; i < 3; i++) await vi.advanceTimersToNextTimerAsync();
    expect(late.slice(0, 3)).toEqual([0, 20, 0]);
  });

  it("stops the timer with the last member; leaving inside a beat skips that member", async () => {
    const { ticker, log, member } = setup();
    let leaveB = () => {};
    ticker.join(() => {
      log.push(`a@${Date.now()}`);
      leaveB();
    });
    leaveB = ticker.join(member("b"));
    const leaveA = ticker.join(member("c"));
    await vi.advanceTimersByTimeAsync(50);
    expect(log).toEqual(["a@50", "c@50"]);
    expect(ticker.size).toBe(2);
    leaveA();
    leaveA();
    expect(ticker.size).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    const ticker2 = setup().ticker;
    const leave = ticker2.join(() => {});
    expect(vi.getTimerCount()).toBe(2);
    leave();
    expect(vi.getTimerCount()).toBe(1);
  });

  it("a member that throws is reported and the others are still stepped", async () => {
    const { ticker, log, member, errors } = setup();
    ticker.join(() => {
      throw new Error("boom");
    });
    ticker.join(member("b"));
    await vi.advanceTimersByTimeAsync(100);
    expect(log).toEqual(["b@50", "b@100"]);
    expect(errors.map((e) => (e as Error).message)).toEqual(["boom", "boom"]);
  });

  it("runs a beat as a microtask: promise callbacks it sets off run before nextTick ones", async () => {
    vi.useRealTimers(); // the order of Node's own queues after a real timer is the point
    const ticker = new Ticker(5);
    const order: string[] = [];
    const done = new Promise<void>((resolve) => {
      const leave = ticker.join(() => {
        leave();
        process.nextTick(() => {
          order.push("nextTick");
          resolve();
        });
        void Promise.resolve().then(() => order.push("promise"));
        order.push("member");
      });
    });
    await done;
    expect(order).toEqual(["member", "promise", "nextTick"]);
  });

  it("refuses a period that is not above 0", () => {
    expect(() => new Ticker(0)).toThrow(/above 0/);
    expect(() => new Ticker(Number.NaN)).toThrow(/above 0/);
  });
});
