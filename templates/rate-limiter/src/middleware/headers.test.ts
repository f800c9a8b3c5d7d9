import { describe, expect, test } from "vitest";
import { policyHeader, rateLimitHeader, retryAfterSeconds, sfString } from "./headers.js";

const status = { id: "search", limit: 100, windowSeconds: 60, remaining: 42, resetSeconds: 30 };

describe("RateLimit header fields", () => {
  test("RateLimit-Policy and RateLimit as the draft writes them", () => {
    expect(policyHeader(status)).toBe('"search";q=100;w=60');
    expect(rateLimitHeader(status)).toBe('"search";r=42;t=30');
  });

  test("policy names are escaped sf-strings; numbers are non-negative integers", () => {
    expect(sfString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(sfString("tab\there\u00e9")).toBe('"tabhere"');
    expect(rateLimitHeader({ ...status, remaining: -3, resetSeconds: 1.7 })).toBe(
      '"search";r=0;t=1',
    );
  });

  test("Retry-After rounds up to whole seconds, never 0", () => {
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
  });
});
