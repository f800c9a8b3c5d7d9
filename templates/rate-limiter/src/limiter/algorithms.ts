/**
 * The three counting algorithms, as pure functions of (rule, counter, cost, now). Nothing here
 * reads a clock or keeps state: the shard actor holds the counters and passes the time, and the
 * unit tests pass a fake one.
 *
 * - token bucket: `burst` tokens, refilled continuously at `rate` per second; a request takes
 *   `cost` tokens. Smooth, allows bursts up to the bucket.
 * - fixed window: at most `limit` per window aligned to multiples of `windowMs` since the epoch.
 *   Exact and cheap, but allows up to 2×limit across a window boundary.
 * - sliding window: the two-window weighted counter (as Cloudflare and Upstash do it): the
 *   previous window's count weighted by how much of it still overlaps the sliding window, plus
 *   the current window's count. An approximation that assumes the previous window's requests
 *   were spread evenly, with no boundary burst.
 *
 * @example
 * const d = decide(rule, counters.get(key), 1, Date.now());
 * if (d.allowed) counters.set(key, d.counter);
 */
import { capacityOf, type Rule } from "./rules.js";

/**
 * A key's counter. Token bucket: `at` is the last refill, `value` the tokens then. Windows:
 * `at` is the start of the current window, `value` its count, `prev` the previous window's.
 */
export interface Counter {
  at: number;
  value: number;
  prev: number;
}

export type Decision =
  | {
      allowed: boolean;
      code?: undefined;
      /** The rule's capacity (limit or burst). */
      limit: number;
      /** What is left after this request (whole units, never negative). */
      remaining: number;
      /** Milliseconds until the counter is back to full. */
      resetMs: number;
      /** When refused: milliseconds until a request of this cost could be allowed; else 0. */
      retryAfterMs: number;
      /** The counter after this decision (unchanged when refused). */
      counter: Counter;
    }
  | {
      allowed: false;
      /** The cost is larger than the rule's capacity: no wait will ever allow it. */
      code: "cost_exceeds_limit";
      limit: number;
      remaining: number;
      resetMs: number;
      retryAfterMs: number;
      counter: Counter | undefined;
    };

export function decide(
  rule: Rule,
  counter: Counter | undefined,
  cost: number,
  now: number,
): Decision {
  const limit = capacityOf(rule);
  if (cost > limit) {
    const current = peek(rule, counter, now);
    return {
      allowed: false,
      code: "cost_exceeds_limit",
      limit,
      remaining: current.remaining,
      resetMs: current.resetMs,
      retryAfterMs: 0,
      counter,
    };
  }
  switch (rule.algorithm) {
    case "token-bucket":
      return tokenBucket(rule.rate, rule.burst, counter, cost, now);
    case "fixed-window":
      return fixedWindow(rule.limit, rule.windowMs, counter, cost, now);
    case "sliding-window":
      return slidingWindow(rule.limit, rule.windowMs, counter, cost, now);
  }
}

/** What is left and when it resets, without spending anything. */
export function peek(
  rule: Rule,
  counter: Counter | undefined,
  now: number,
): { remaining: number; resetMs: number } {
  const d = decide(rule, counter, 0, now);
  return { remaining: d.remaining, resetMs: d.resetMs };
}

/** A counter that is back to its initial value: forgetting it loses nothing. */
export function isIdle(rule: Rule, counter: Counter, now: number): boolean {
  switch (rule.algorithm) {
    case "token-bucket":
      return refill(rule.rate, rule.burst, counter, now) >= rule.burst;
    case "fixed-window":
      return windowStart(now, rule.windowMs) !== counter.at || counter.value === 0;
    case "sliding-window":
      return now >= counter.at + 2 * rule.windowMs || (counter.value === 0 && counter.prev === 0);
  }
}

function refill(rate: number, burst: number, counter: Counter | undefined, now: number): number {
  if (!counter) return burst;
  // A clock that stepped back refills nothing rather than taking tokens away.
  const elapsed = Math.max(0, now - counter.at);
  return Math.min(burst, counter.value + (elapsed * rate) / 1000);
}

function tokenBucket(
  rate: number,
  burst: number,
  counter: Counter | undefined,
  cost: number,
  now: number,
): Decision {
  const tokens = refill(rate, burst, counter, now);
  const allowed = tokens >= cost;
  const left = allowed ? tokens - cost : tokens;
  return {
    allowed,
    limit: burst,
    remaining: Math.floor(left),
    resetMs: Math.ceil(((burst - left) * 1000) / rate),
    retryAfterMs: allowed ? 0 : Math.ceil(((cost - tokens) * 1000) / rate),
    counter: allowed ? { at: now, value: left, prev: 0 } : (counter ?? fresh(now, burst)),
  };
}

function fresh(now: number, value: number): Counter {
  return { at: now, value, prev: 0 };
}

export function windowStart(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}

function fixedWindow(
  limit: number,
  windowMs: number,
  counter: Counter | undefined,
  cost: number,
  now: number,
): Decision {
  const start = windowStart(now, windowMs);
  const used = counter && counter.at === start ? counter.value : 0;
  const allowed = used + cost <= limit;
  const after = allowed ? used + cost : used;
  const untilNext = start + windowMs - now;
  return {
    allowed,
    limit,
    remaining: limit - after,
    resetMs: after === 0 ? 0 : untilNext,
    retryAfterMs: allowed ? 0 : untilNext,
    counter: allowed || counter?.at !== start ? { at: start, value: after, prev: 0 } : counter,
  };
}

function slidingWindow(
  limit: number,
  windowMs: number,
  counter: Counter | undefined,
  cost: number,
  now: number,
): Decision {
  const start = windowStart(now, windowMs);
  let current = 0;
  let previous = 0;
  if (counter?.at === start) {
    current = counter.value;
    previous = counter.prev;
  } else if (counter?.at === start - windowMs) {
    previous = counter.value;
  }
  // How much of the previous window still lies inside the sliding window ending now.
  const overlap = 1 - (now - start) / windowMs;
  const estimate = previous * overlap + current;
  const allowed = estimate + cost <= limit;
  const after = allowed ? current + cost : current;
  const estimateAfter = previous * overlap + after;
  return {
    allowed,
    limit,
    remaining: Math.max(0, Math.floor(limit - estimateAfter)),
    resetMs:
      after > 0 ? start + 2 * windowMs - now : previous > 0 ? Math.ceil(overlap * windowMs) : 0,
    retryAfterMs: allowed
      ? 0
      : slidingRetryAfter(limit, windowMs, start, now, previous, after, cost),
    counter: { at: start, value: after, prev: previous },
  };
}

/**
 * When a refused request of `cost` fits: later in this window, once enough of the previous
 * window has slid out, or else in the next window, once enough of this one has.
 */
function slidingRetryAfter(
  limit: number,
  windowMs: number,
  start: number,
  now: number,
  previous: number,
  current: number,
  cost: number,
): number {
  const room = limit - current - cost;
  if (room >= 0 && previous > 0) {
    // previous × (1 - f) ≤ room  ⇔  f ≥ 1 - room / previous
    const at = start + (1 - room / previous) * windowMs;
    if (at < start + windowMs) return Math.max(1, Math.ceil(at - now));
  }
  // Next window: current × (1 - f) + cost ≤ limit  ⇔  f ≥ 1 - (limit - cost) / current
  const f = current > 0 ? Math.max(0, 1 - (limit - cost) / current) : 0;
  return Math.max(1, Math.ceil(start + windowMs + f * windowMs - now));
}
