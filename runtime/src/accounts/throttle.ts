/**
 * Brute-force resistance for sign-in: failed attempts are counted per (account, client address)
 * and per client address; past a few free failures each further attempt has to wait, twice as
 * long each time (1 s, 2 s, 4 s … up to 15 min). A success clears the account's counter for
 * that address. Refused attempts are answered at once with `too_many_attempts` and the wait in
 * `retryAfterSeconds`, rather than held open, so a flood costs the server no sockets or hashes.
 *
 * Counting per (account, address) rather than per account alone means an attacker elsewhere
 * cannot lock a person out of their own account; the per-address counter, with a larger
 * allowance, stops one address from trying many accounts. Counters live in memory (one process;
 * a restart forgets them, which only resets the waits) and the table is bounded.
 *
 * @example
 * const throttle = new AttemptThrottle();
 * throttle.check([`acct:${org}:${login}:${ip}`, `ip:${ip}`]); // throws too_many_attempts
 * throttle.failed([...]) / throttle.succeeded(`acct:…`);
 */
import { UserError } from "../actor/errors.js";

export interface AttemptThrottleOptions {
  /** Free failures per (account, address). Default 5. */
  perAccount?: number;
  /** Free failures per address across accounts. Default 50. */
  perAddress?: number;
  /** First wait, doubled at each further failure. Default 1 s. */
  baseDelayMs?: number;
  /** Longest wait. Default 15 min. */
  maxDelayMs?: number;
  /** A counter untouched this long is forgotten. Default 1 h. */
  forgetAfterMs?: number;
  /** Most counters kept; the oldest go first. Default 50 000. */
  maxEntries?: number;
  now?: () => number;
}

interface Counter {
  failures: number;
  /** No attempt before this time (ms). */
  blockedUntil: number;
  lastFailure: number;
}

export class AttemptThrottle {
  private readonly counters = new Map<string, Counter>();
  private readonly perAccount: number;
  private readonly perAddress: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly forgetAfterMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: AttemptThrottleOptions = {}) {
    this.perAccount = opts.perAccount ?? 5;
    this.perAddress = opts.perAddress ?? 50;
    this.baseDelayMs = opts.baseDelayMs ?? 1000;
    this.maxDelayMs = opts.maxDelayMs ?? 15 * 60_000;
    this.forgetAfterMs = opts.forgetAfterMs ?? 60 * 60_000;
    this.maxEntries = opts.maxEntries ?? 50_000;
    this.now = opts.now ?? Date.now;
  }

  static accountKey(org: string, login: string, address: string): string {
    return `acct\u0000${org}\u0000${login}\u0000${address}`;
  }

  static addressKey(address: string): string {
    return `addr\u0000${address}`;
  }

  /** Throws `too_many_attempts` if any of the keys must still wait. */
  check(keys: string[]): void {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const counter = this.live(key, now);
      if (counter && counter.blockedUntil > now) wait = Math.max(wait, counter.blockedUntil - now);
    }
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new UserError(
        `Too many failed sign-in attempts. Wait ${seconds} second${seconds === 1 ? "" : "s"} and try again.`,
        { code: "too_many_attempts", metadata: { retryAfterSeconds: seconds } },
      );
    }
  }

  /** Records a failure under each key (the account key first, the address key second). */
  failed(accountKey: string, addressKey: string): void {
    this.bump(accountKey, this.perAccount);
    this.bump(addressKey, this.perAddress);
  }

  succeeded(accountKey: string): void {
    this.counters.delete(accountKey);
  }

  /** Counters held (for tests and metrics). */
  get size(): number {
    return this.counters.size;
  }

  private live(key: string, now: number): Counter | undefined {
    const counter = this.counters.get(key);
    if (counter && now - counter.lastFailure > this.forgetAfterMs && counter.blockedUntil <= now) {
      this.counters.delete(key);
      return undefined;
    }
    return counter;
  }

  private bump(key: string, free: number): void {
    const now = this.now();
    let counter = this.live(key, now);
    if (counter) {
      // Re-inserted so that the map's order is least recently failed first.
      this.counters.delete(key);
    } else {
      counter = { failures: 0, blockedUntil: 0, lastFailure: now };
      if (this.counters.size >= this.maxEntries) {
        const oldest = this.counters.keys().next().value;
        if (oldest !== undefined) this.counters.delete(oldest);
      }
    }
    counter.failures += 1;
    counter.lastFailure = now;
    const over = counter.failures - free;
    if (over > 0) {
      const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(over - 1, 30));
      counter.blockedUntil = now + delay;
    }
    this.counters.set(key, counter);
  }
}
