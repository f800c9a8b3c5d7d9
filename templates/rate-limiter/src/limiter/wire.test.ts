import { describe, expect, test } from "vitest";
import type { Verdict } from "./verdict.js";
import {
  decodeRequest,
  decodeVerdict,
  encodeRequests,
  requestCount,
  VerdictEncoder,
} from "./wire.js";

describe("wire form of a batch", () => {
  test("requests round-trip, defaults included, as one flat array", () => {
    const full = { key: "k", method: "POST", path: "/v1/x", cost: 3, ruleId: "r", keyHash: "ab" };
    const bare = { key: "k2", method: "GET", path: "/" };
    const wire = JSON.parse(JSON.stringify(encodeRequests([full, bare])));
    expect(wire.every((v: unknown) => typeof v === "string" || typeof v === "number")).toBe(true);
    expect(requestCount(wire)).toBe(2);
    expect(decodeRequest(wire, 0)).toEqual(full);
    expect(decodeRequest(wire, 1)).toEqual({
      ...bare,
      cost: undefined,
      ruleId: undefined,
      keyHash: undefined,
    });
    expect(requestCount(encodeRequests([]))).toBe(0);
  });

  test("verdicts round-trip, each policy listed once", () => {
    const policy = { id: "q", limit: 10, windowSeconds: 60, remaining: 4, resetSeconds: 30 };
    const verdicts: Verdict[] = [
      { allowed: true, policy, retryAfterMs: 0 },
      {
        allowed: false,
        code: "rate_limited",
        policy: { ...policy, remaining: 0 },
        retryAfterMs: 1500,
      },
      { allowed: true, retryAfterMs: 0 },
    ];
    const enc = new VerdictEncoder();
    for (const v of verdicts) enc.push(v);
    const wire = JSON.parse(JSON.stringify(enc.result));
    expect(wire[0]).toBe(1); // one policy
    expect(wire.every((v: unknown) => typeof v === "string" || typeof v === "number")).toBe(true);
    expect(verdicts.map((_, i) => decodeVerdict(wire, i))).toEqual(verdicts);
  });

  test("a policy whose figures changed within a batch keeps its own figures", () => {
    const before = { id: "q", limit: 10, windowSeconds: 60, remaining: 4, resetSeconds: 30 };
    const after = { ...before, limit: 20, remaining: 14 };
    const verdicts: Verdict[] = [
      { allowed: true, policy: before, retryAfterMs: 0 },
      { allowed: true, policy: after, retryAfterMs: 0 },
      { allowed: true, policy: { ...after, remaining: 13 }, retryAfterMs: 0 },
    ];
    const enc = new VerdictEncoder();
    for (const v of verdicts) enc.push(v);
    expect(enc.result[0]).toBe(2);
    expect(verdicts.map((_, i) => decodeVerdict(enc.result, i))).toEqual(verdicts);
  });
});
