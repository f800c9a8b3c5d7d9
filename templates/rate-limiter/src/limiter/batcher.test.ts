import { describe, expect, test } from "vitest";
import { Batcher } from "./batcher.js";

/** A target whose calls the test answers by hand. */
function target() {
  const calls: { reqs: number[]; answer(): void; fail(e: Error): void }[] = [];
  const call = (reqs: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      calls.push({ reqs, answer: () => resolve(reqs.map((r) => r * 10)), fail: reject });
    });
  return { calls, call };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("Batcher", () => {
  test("one call in flight; what arrives meanwhile goes together in the next", async () => {
    const t = target();
    const b = new Batcher(t.call, { maxBatch: 100, maxWaiting: 1000, name: "t" });
    const first = [b.push(1), b.push(2)];
    await tick();
    expect(t.calls.map((c) => c.reqs)).toEqual([[1, 2]]);
    const second = [b.push(3), b.push(4), b.push(5)];
    await tick();
    expect(t.calls).toHaveLength(1); // still in flight: 3, 4, 5 wait
    t.calls[0]!.answer();
    expect(await Promise.all(first)).toEqual([10, 20]);
    await tick();
    expect(t.calls[1]!.reqs).toEqual([3, 4, 5]);
    t.calls[1]!.answer();
    expect(await Promise.all(second)).toEqual([30, 40, 50]);
  });

  test("a failed call fails its batch only; batches are capped at maxBatch", async () => {
    const t = target();
    const b = new Batcher(t.call, { maxBatch: 2, maxWaiting: 1000, name: "t" });
    const p = [b.push(1), b.push(2), b.push(3)];
    await tick();
    t.calls[0]!.fail(new Error("boom"));
    await expect(p[0]).rejects.toThrow("boom");
    await expect(p[1]).rejects.toThrow("boom");
    await tick();
    expect(t.calls[1]!.reqs).toEqual([3]);
    t.calls[1]!.answer();
    expect(await p[2]).toBe(30);
  });

  test("a target that does not answer holds at most maxWaiting requests", async () => {
    const t = target();
    const b = new Batcher(t.call, { maxBatch: 1, maxWaiting: 2, name: "The shard" });
    void b.push(1); // in flight, never answered
    await tick();
    void b.push(2);
    void b.push(3);
    await expect(b.push(4)).rejects.toThrow("The shard is not answering.");
  });

  test("gathered per tick, a push after the queued flush goes in the next call; per turn, in the same", async () => {
    for (const gather of ["tick", "turn"] as const) {
      const t = target();
      const b = new Batcher(t.call, { maxBatch: 100, maxWaiting: 1000, name: "t", gather });
      const first = b.push(1);
      await Promise.resolve();
      const second = b.push(2);
      await new Promise((r) => setImmediate(r));
      expect(t.calls.map((c) => c.reqs)).toEqual(gather === "tick" ? [[1]] : [[1, 2]]);
      t.calls[0]!.answer();
      if (gather === "tick") {
        await first;
        await new Promise((r) => setImmediate(r));
        t.calls[1]!.answer();
      }
      expect(await Promise.all([first, second])).toEqual([10, 20]);
    }
  });
});
