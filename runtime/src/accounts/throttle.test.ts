// The sign-in throttle: free failures, then doubling waits, per (account, address) and per address.
import { describe, expect, it } from "vitest";
import { AttemptThrottle } from "./throttle.js";

function setup(opts: ConstructorParameters<typeof AttemptThrottle>[0] = {}) {
  let now = 1_000_000;
  const throttle = new AttemptThrottle({ now: () => now, ...opts });
  const acct = (login = "ada", ip = "10.0.0.1") => AttemptThrottle.accountKey("acme", login, ip);
  const addr = (ip = "10.0.0.1") => AttemptThrottle.addressKey(ip);
  const waitOf = (keys: string[]): number | null => {
    try {
      throttle.check(keys);
      return null;
    } catch (err) {
      expect(err).toMatchObject({ code: "too_many_attempts" });
      return (err as { metadata: { retryAfterSeconds: number } }).metadata.retryAfterSeconds;
    }
  };
  return { throttle, acct, addr, waitOf, advance: (ms: number) => (now += ms) };
}

describe("AttemptThrottle", () => {
  it("allows five failures, then waits 1 s, 2 s, 4 s … capped", () => {
    const { throttle, acct, addr, waitOf, advance } = setup({ maxDelayMs: 8000 });
    for (let i = 0; i < 5; i++) {
      expect(waitOf([acct(), addr()])).toBeNull();
      throttle.failed(acct(), addr());
    }
    expect(waitOf([acct(), addr()])).toBeNull();
    throttle.failed(acct(), addr());
    expect(waitOf([acct(), addr()])).toBe(1);
    advance(1000);
    expect(waitOf([acct(), addr()])).toBeNull();
    throttle.failed(acct(), addr());
    expect(waitOf([acct(), addr()])).toBe(2);
    advance(2000);
    throttle.failed(acct(), addr());
    expect(waitOf([acct(), addr()])).toBe(4);
    advance(4000);
    throttle.failed(acct(), addr());
    expect(waitOf([acct(), addr()])).toBe(8);
    advance(8000);
    throttle.failed(acct(), addr());
    expect(waitOf([acct(), addr()])).toBe(8);
  });

  it("a success clears the account's counter; other addresses are not locked out", () => {
    const { throttle, acct, addr, waitOf } = setup();
    for (let i = 0; i < 6; i++) throttle.failed(acct(), addr());
    expect(waitOf([acct(), addr()])).toBe(1);
    // The owner, from home, is not affected by an attacker elsewhere.
    expect(waitOf([acct("ada", "192.168.1.5"), addr("192.168.1.5")])).toBeNull();
    throttle.succeeded(acct());
    expect(waitOf([acct()])).toBeNull();
  });

  it("one address trying many accounts is slowed down too", () => {
    const { throttle, acct, addr, waitOf } = setup({ perAddress: 10 });
    for (let i = 0; i < 11; i++) throttle.failed(acct(`user${i}`), addr());
    expect(waitOf([acct("someone-new"), addr()])).toBe(1);
  });

  it("keeps a bounded table and forgets old counters", () => {
    const { throttle, acct, addr, waitOf, advance } = setup({
      maxEntries: 100,
      forgetAfterMs: 60_000,
    });
    for (let i = 0; i < 500; i++) throttle.failed(acct(`u${i}`, `ip${i}`), addr(`ip${i}`));
    expect(throttle.size).toBeLessThanOrEqual(100);
    for (let i = 0; i < 6; i++) throttle.failed(acct(), addr());
    advance(61_000);
    expect(waitOf([acct(), addr()])).toBeNull();
    throttle.failed(acct(), addr());
    expect(waitOf([acct(), addr()])).toBeNull();
  });
});
