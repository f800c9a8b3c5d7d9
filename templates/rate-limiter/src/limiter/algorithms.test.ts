// The algorithms against a fake clock: the time is a number the test passes, so boundaries are
// hit to the millisecond.
import { describe, expect, test } from "vitest";
import { type Counter, decide, isIdle } from "./algorithms.js";
import { parseRule, type Rule, RuleError } from "./rules.js";

/** Runs requests of `cost` at `now`, keeping the counter like the shard does. */
function limiter(rule: Rule) {
  let counter: Counter | undefined;
  return {
    hit(now: number, cost = 1) {
      const d = decide(rule, counter, cost, now);
      if (d.allowed) counter = d.counter;
      return d;
    },
    get counter() {
      return counter;
    },
  };
}

const T0 = 1_700_000_000_000; // a multiple of 1000 and of 60_000

describe("token bucket", () => {
  const rule = parseRule({
    id: "tb",
    match: { route: "*" },
    algorithm: "token-bucket",
    rate: 10, // one token per 100 ms
    burst: 5,
  });

  test("a full bucket allows a burst of exactly `burst`, then refuses with the wait for one token", () => {
    const l = limiter(rule);
    for (let i = 0; i < 5; i++) expect(l.hit(T0).allowed).toBe(true);
    const refused = l.hit(T0);
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 100 });
  });

  test("refills continuously at `rate`, never above `burst`", () => {
    const l = limiter(rule);
    for (let i = 0; i < 5; i++) l.hit(T0);
    expect(l.hit(T0 + 99).allowed).toBe(false);
    expect(l.hit(T0 + 100)).toMatchObject({ allowed: true, remaining: 0 });
    // A long pause refills to the burst, not beyond.
    const after = l.hit(T0 + 60_000);
    expect(after).toMatchObject({ allowed: true, remaining: 4 });
  });

  test("cost > 1 takes that many tokens, and waits for all of them", () => {
    const l = limiter(rule);
    expect(l.hit(T0, 3)).toMatchObject({ allowed: true, remaining: 2 });
    const refused = l.hit(T0, 3);
    expect(refused).toMatchObject({ allowed: false, retryAfterMs: 100 });
    expect(l.hit(T0 + 100, 3)).toMatchObject({ allowed: true, remaining: 0 });
  });

  test("a cost larger than the burst is refused with its own code and takes nothing", () => {
    const l = limiter(rule);
    const d = l.hit(T0, 6);
    expect(d).toMatchObject({ allowed: false, code: "cost_exceeds_limit", remaining: 5 });
    expect(l.hit(T0, 5).allowed).toBe(true);
  });

  test("a clock that steps back refills nothing and takes nothing away", () => {
    const l = limiter(rule);
    l.hit(T0, 5);
    expect(l.hit(T0 - 10_000).allowed).toBe(false);
    expect(l.hit(T0 + 100).allowed).toBe(true);
  });

  test("idle once full again", () => {
    const l = limiter(rule);
    l.hit(T0, 2);
    expect(isIdle(rule, l.counter!, T0 + 100)).toBe(false);
    expect(isIdle(rule, l.counter!, T0 + 200)).toBe(true);
  });
});

describe("fixed window", () => {
  const rule = parseRule({
    id: "fw",
    match: { route: "/v1/*", method: "GET" },
    algorithm: "fixed-window",
    limit: 3,
    windowMs: 1000,
  });

  test("exactly `limit` per window; the refusal waits until the next window starts", () => {
    const l = limiter(rule);
    for (let i = 0; i < 3; i++) expect(l.hit(T0 + 100).allowed).toBe(true);
    expect(l.hit(T0 + 400)).toMatchObject({ allowed: false, retryAfterMs: 600, resetMs: 600 });
    expect(l.hit(T0 + 999).allowed).toBe(false);
    expect(l.hit(T0 + 1000)).toMatchObject({ allowed: true, remaining: 2 });
  });

  test("boundary: the last millisecond of a window and the first of the next are separate", () => {
    const l = limiter(rule);
    for (let i = 0; i < 3; i++) expect(l.hit(T0 + 999).allowed).toBe(true);
    for (let i = 0; i < 3; i++) expect(l.hit(T0 + 1000).allowed).toBe(true);
    expect(l.hit(T0 + 1000).allowed).toBe(false);
  });

  test("cost > 1 counts as that many; cost > limit is refused with its own code", () => {
    const l = limiter(rule);
    expect(l.hit(T0, 2)).toMatchObject({ allowed: true, remaining: 1 });
    expect(l.hit(T0, 2).allowed).toBe(false);
    expect(l.hit(T0, 1).allowed).toBe(true);
    expect(l.hit(T0 + 1000, 4)).toMatchObject({ allowed: false, code: "cost_exceeds_limit" });
  });

  test("idle once its window is over", () => {
    const l = limiter(rule);
    l.hit(T0 + 10);
    expect(isIdle(rule, l.counter!, T0 + 999)).toBe(false);
    expect(isIdle(rule, l.counter!, T0 + 1000)).toBe(true);
  });
});

describe("sliding window (two-window weighted counter)", () => {
  const rule = parseRule({
    id: "sw",
    match: { route: "*" },
    algorithm: "sliding-window",
    limit: 10,
    windowMs: 1000,
  });

  test("within the first window it counts exactly like a fixed window", () => {
    const l = limiter(rule);
    for (let i = 0; i < 10; i++) expect(l.hit(T0 + 500).allowed).toBe(true);
    expect(l.hit(T0 + 500).allowed).toBe(false);
  });

  test("the previous window weighs by its remaining overlap: no burst at the boundary", () => {
    const l = limiter(rule);
    for (let i = 0; i < 10; i++) l.hit(T0 + 900);
    // At T0+1000 the previous window still overlaps fully: nothing is allowed.
    expect(l.hit(T0 + 1000).allowed).toBe(false);
    // At T0+1250, 75% of the previous 10 counts: 7.5, so two more fit (7.5 + 2 ≤ 10), not three.
    expect(l.hit(T0 + 1250).allowed).toBe(true);
    expect(l.hit(T0 + 1250).allowed).toBe(true);
    const refused = l.hit(T0 + 1250);
    expect(refused.allowed).toBe(false);
    // It fits once previous × (1 - f) ≤ 10 - 2 - 1 = 7, at f = 0.3: T0+1300.
    expect(refused.retryAfterMs).toBe(50);
    expect(l.hit(T0 + 1300).allowed).toBe(true);
  });

  test("after two quiet windows the history is gone", () => {
    const l = limiter(rule);
    for (let i = 0; i < 10; i++) l.hit(T0);
    expect(isIdle(rule, l.counter!, T0 + 1999)).toBe(false);
    expect(isIdle(rule, l.counter!, T0 + 2000)).toBe(true);
    for (let i = 0; i < 10; i++) expect(l.hit(T0 + 2000).allowed).toBe(true);
  });

  test("a refusal in a full current window waits into the next window", () => {
    const l = limiter(rule);
    for (let i = 0; i < 10; i++) l.hit(T0 + 1000);
    const refused = l.hit(T0 + 1000);
    // Next window: 10 × (1 - f) + 1 ≤ 10 at f = 0.1, i.e. T0 + 2100.
    expect(refused.retryAfterMs).toBe(1100);
    expect(l.hit(T0 + 2099).allowed).toBe(false);
    expect(l.hit(T0 + 2100).allowed).toBe(true);
  });

  test("cost > 1, and cost > limit refused with its own code", () => {
    const l = limiter(rule);
    expect(l.hit(T0, 4)).toMatchObject({ allowed: true, remaining: 6 });
    expect(l.hit(T0, 7).allowed).toBe(false);
    expect(l.hit(T0, 11)).toMatchObject({ allowed: false, code: "cost_exceeds_limit" });
  });
});

describe("rule validation", () => {
  const base = { id: "r", match: { route: "/v1/quotes", method: "GET" } };

  test.each([
    [{ algorithm: "fixed-window", limit: 0, windowMs: 1000 }, "limit: limit must be at least 1"],
    [{ algorithm: "fixed-window", limit: -5, windowMs: 1000 }, "limit: limit must be at least 1"],
    [{ algorithm: "sliding-window", limit: 1.5, windowMs: 1000 }, "whole number"],
    [{ algorithm: "fixed-window", limit: 10, windowMs: 10 }, "windowMs must be at least 100 ms"],
    [{ algorithm: "fixed-window", limit: 10, windowMs: 1e12 }, "at most 604800000 ms"],
    [{ algorithm: "token-bucket", rate: 0, burst: 10 }, "rate must be at least"],
    [{ algorithm: "token-bucket", rate: 5, burst: 0 }, "burst must be at least 1"],
    [{ algorithm: "leaky", limit: 1, windowMs: 1000 }, "algorithm"],
  ])("refuses %j", (fields, message) => {
    expect(() => parseRule({ ...base, ...fields })).toThrow(RuleError);
    expect(() => parseRule({ ...base, ...fields })).toThrow(message);
  });

  test("refuses a route that is not a path and fills in the defaults", () => {
    expect(() =>
      parseRule({
        ...base,
        match: { route: "quotes" },
        algorithm: "fixed-window",
        limit: 1,
        windowMs: 1000,
      }),
    ).toThrow("route must be");
    const rule = parseRule({ ...base, algorithm: "fixed-window", limit: 1, windowMs: 1000 });
    expect(rule).toMatchObject({ cost: 1, failMode: "open" });
  });
});
