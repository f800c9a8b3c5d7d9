// Password hashing: scrypt with a random salt, parameters in the stored string, a length policy.
import { describe, expect, it } from "vitest";
import {
  DEFAULT_SCRYPT,
  hashParams,
  hashPassword,
  passwordSchema,
  verifyPassword,
} from "./password.js";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "./rules.js";

const CHEAP = { N: 2 ** 10, r: 8, p: 1 };

describe("hashPassword / verifyPassword", () => {
  it("verifies the right password and refuses a wrong one", async () => {
    const stored = await hashPassword("correct horse battery", CHEAP);
    expect(await verifyPassword("correct horse battery", stored)).toBe(true);
    expect(await verifyPassword("correct horse batterY", stored)).toBe(false);
    expect(await verifyPassword("", stored)).toBe(false);
  });

  it("salts every hash: the same password never gives the same string", async () => {
    const a = await hashPassword("same password", CHEAP);
    const b = await hashPassword("same password", CHEAP);
    expect(a).not.toBe(b);
    expect(await verifyPassword("same password", a)).toBe(true);
    expect(await verifyPassword("same password", b)).toBe(true);
  });

  it("stores its parameters, so a hash made with other costs still verifies", async () => {
    const stored = await hashPassword("pass phrase", { N: 2 ** 11, r: 4, p: 2 });
    expect(stored).toMatch(/^scrypt\$2048\$4\$2\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{86}$/);
    expect(hashParams(stored)).toEqual({ N: 2048, r: 4, p: 2 });
    expect(await verifyPassword("pass phrase", stored)).toBe(true);
  });

  it("uses N = 2^15, r = 8, p = 1 by default", async () => {
    expect(DEFAULT_SCRYPT).toEqual({ N: 32768, r: 8, p: 1 });
    const stored = await hashPassword("a default-cost password");
    expect(hashParams(stored)).toEqual(DEFAULT_SCRYPT);
    expect(await verifyPassword("a default-cost password", stored)).toBe(true);
  });

  it("treats canonically equal Unicode spellings as the same password", async () => {
    const stored = await hashPassword("caf\u00e9 au lait", CHEAP);
    expect(await verifyPassword("cafe\u0301 au lait", stored)).toBe(true);
  });

  it("says false, without throwing, for a malformed or hostile stored hash", async () => {
    const good = await hashPassword("whatever1", CHEAP);
    const parts = good.split("$");
    for (const bad of [
      "",
      "plain-text-password",
      `bcrypt$${parts.slice(1).join("$")}`,
      `scrypt$1000$8$1$${parts[4]}$${parts[5]}`, // N not a power of two
      `scrypt$${2 ** 30}$8$1$${parts[4]}$${parts[5]}`, // would take 128 GiB
      `scrypt$1024$8$1$$${parts[5]}`, // no salt
      `scrypt$1024$8$1$${parts[4]}$`, // no hash
    ]) {
      expect(await verifyPassword("whatever1", bad), bad).toBe(false);
    }
  });
});

describe("password policy", () => {
  it("asks for 8 to 200 characters, and nothing else", () => {
    expect(passwordSchema.safeParse("a".repeat(MIN_PASSWORD_LENGTH - 1)).success).toBe(false);
    expect(passwordSchema.safeParse("a".repeat(MIN_PASSWORD_LENGTH)).success).toBe(true);
    expect(passwordSchema.safeParse("all lower case words").success).toBe(true);
    expect(passwordSchema.safeParse("a".repeat(MAX_PASSWORD_LENGTH)).success).toBe(true);
    expect(passwordSchema.safeParse("a".repeat(MAX_PASSWORD_LENGTH + 1)).success).toBe(false);
    expect(passwordSchema.safeParse(12345678).success).toBe(false);
  });
});
