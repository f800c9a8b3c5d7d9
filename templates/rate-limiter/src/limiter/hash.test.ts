import { describe, expect, test } from "vitest";
import { hash32, shardOf } from "./hash.js";

describe("shardOf", () => {
  test("is stable: the same key always lands on the same shard", () => {
    expect(shardOf("key_abc", 8)).toBe(shardOf("key_abc", 8));
    // Pinned values: a change of hash would move every key to another shard after a deploy.
    expect([hash32(""), hash32("a"), hash32("key_abc")]).toEqual([
      2872998923, 444641715, 2367549772,
    ]);
  });

  test.each([4, 8, 16, 7])("spreads 100,000 similar keys over %i shards within 3%%", (shards) => {
    const counts = new Array<number>(shards).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++)
      counts[shardOf(JSON.stringify([`key_${i}`, "search"]), shards)]! += 1;
    const expected = n / shards;
    for (const c of counts) expect(Math.abs(c - expected) / expected).toBeLessThan(0.03);
  });

  test("stays within range", () => {
    for (let i = 0; i < 10_000; i++) {
      const s = shardOf(String(i), 3);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(3);
    }
  });
});
