// The turn budget with a hand-driven clock and loop: reads go on at once while the slice has
// budget, wait in order once it is spent, and are released after the next "poll" as many as fit.
import { describe, expect, it } from "vitest";
import { gateStream, TurnBudget } from "./turns.js";

function fixture(budgetMs: number) {
  let now = 0;
  const deferred: (() => void)[] = [];
  const budget = new TurnBudget(
    budgetMs,
    () => now,
    (fn) => deferred.push(fn),
  );
  return {
    budget,
    advance: (ms: number) => {
      now += ms;
    },
    /** The loop's next check phase: runs what was deferred, then the promise jobs it started. */
    async turn() {
      const fns = deferred.splice(0);
      for (const fn of fns) fn();
      await new Promise((r) => setImmediate(r));
    },
    get armed() {
      return deferred.length;
    },
  };
}

describe("TurnBudget", () => {
  it("lets reads through at once while the slice is under budget", () => {
    const f = fixture(4);
    expect(f.budget.take()).toBeUndefined();
    f.advance(1);
    expect(f.budget.take()).toBeUndefined();
    f.advance(2);
    expect(f.budget.take()).toBeUndefined();
    expect(f.budget.waiting).toBe(0);
    // The slice ends at the next check phase, so it never spans a socket read.
    expect(f.armed).toBe(1);
  });

  it("queues reads once the budget is spent and releases them in order after the next poll", async () => {
    const f = fixture(4);
    expect(f.budget.take()).toBeUndefined();
    f.advance(5);
    const order: string[] = [];
    const a = f.budget.take();
    const b = f.budget.take();
    expect(a).toBeInstanceOf(Promise);
    expect(b).toBeInstanceOf(Promise);
    void a?.then(() => order.push("a"));
    void b?.then(() => order.push("b"));
    expect(f.budget.waiting).toBe(2);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    await f.turn();
    expect(order).toEqual(["a", "b"]);
    expect(f.budget.waiting).toBe(0);
  });

  it("a new read waits behind the queue even with budget left (no overtaking)", async () => {
    const f = fixture(4);
    f.budget.take();
    f.advance(5);
    const first = f.budget.take();
    expect(first).toBeInstanceOf(Promise);
    await f.turn(); // first released; a new slice started
    // Budget left in the new slice, nothing queued: through at once.
    expect(f.budget.take()).toBeUndefined();
    f.advance(5);
    const late = f.budget.take();
    expect(late).toBeInstanceOf(Promise);
    expect(f.budget.waiting).toBe(1);
    // With a read queued, even a fresh slice's read goes behind it.
    await f.turn();
    expect(f.budget.waiting).toBe(0);
  });

  it("releases about one budget of reads per turn, by the measured cost of a read", async () => {
    const f = fixture(4);
    // A slice of 8 reads taking 1 ms each: a read costs about 1 ms.
    for (let i = 0; i < 4; i++) {
      expect(f.budget.take()).toBeUndefined();
      f.advance(1);
    }
    const waiters = Array.from({ length: 40 }, () => f.budget.take());
    expect(waiters.every((w) => w instanceof Promise)).toBe(true);
    let released = 0;
    for (const w of waiters) void w?.then(() => released++);
    const perTurn: number[] = [];
    while (released < 40) {
      const before = released;
      await f.turn();
      perTurn.push(released - before);
      // The released reads each take 1 ms before the next turn.
      f.advance(released - before);
      // Each released read asks again at the end of its part, as a generation does.
      for (let i = 0; i < released - before; i++) f.budget.take();
      if (perTurn.length > 100) break;
    }
    expect(released).toBe(40);
    // Never the whole queue in one turn, always some.
    expect(Math.max(...perTurn)).toBeLessThan(40);
    expect(Math.min(...perTurn)).toBeGreaterThan(0);
    expect(Math.max(...perTurn.slice(2))).toBeLessThanOrEqual(8);
  });

  it("a budget of 0 lets everything through", () => {
    const f = fixture(0);
    f.advance(100);
    for (let i = 0; i < 10; i++) expect(f.budget.take()).toBeUndefined();
    expect(f.armed).toBe(0);
  });
});

describe("gateStream", () => {
  function source(parts: string[]) {
    let pulls = 0;
    let cancelled: unknown;
    const stream = new ReadableStream<string>(
      {
        pull(controller) {
          pulls++;
          const next = parts.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(next);
        },
        cancel(reason) {
          cancelled = reason;
        },
      },
      { highWaterMark: 0 },
    );
    return {
      stream,
      get pulls() {
        return pulls;
      },
      get cancelled() {
        return cancelled;
      },
    };
  }

  it("hands a ready part on only in a slice: once the budget is spent it waits for the next turn", async () => {
    const f = fixture(4);
    const src = source(["a", "b", "c"]);
    const reader = gateStream(src.stream, f.budget).getReader();
    // Nothing is read from the model before the reader asks.
    await new Promise((r) => setImmediate(r));
    expect(src.pulls).toBe(0);
    expect(await reader.read()).toEqual({ done: false, value: "a" });
    f.advance(5);
    let b: ReadableStreamReadResult<string> | undefined;
    void reader.read().then((r) => {
      b = r;
    });
    await new Promise((r) => setImmediate(r));
    // The model's part is there, but it goes on only after the loop has polled.
    expect(src.pulls).toBe(2);
    expect(b).toBeUndefined();
    expect(f.budget.waiting).toBe(1);
    await f.turn();
    expect(b).toEqual({ done: false, value: "b" });
    expect(await reader.read()).toEqual({ done: false, value: "c" });
    expect((await reader.read()).done).toBe(true);
  });

  it("lets parts through at once after an abort, and passes a cancel on to the model", async () => {
    const f = fixture(4);
    const controller = new AbortController();
    const src = source(["a", "b", "c"]);
    const reader = gateStream(src.stream, f.budget, controller.signal).getReader();
    await reader.read();
    f.advance(5);
    controller.abort();
    expect(await reader.read()).toEqual({ done: false, value: "b" });
    expect(f.budget.waiting).toBe(0);
    await reader.cancel("stop");
    expect(src.cancelled).toBe("stop");
  });

  it("is the stream itself when the budget is off", () => {
    const f = fixture(0);
    const src = source([]);
    expect(gateStream(src.stream, f.budget)).toBe(src.stream);
  });
});
