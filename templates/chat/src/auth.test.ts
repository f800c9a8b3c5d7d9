// Every token failure on the chat's actor calls and connections, and the chat's AUTH_SECRET.
// Token rules, the account routes and their refusals are tested with troupe/accounts.
import { SignJWT } from "jose";
import { Auth } from "troupe/accounts";
import { ActorError } from "troupe/client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestApp, TEST_SECRET, type TestApp } from "../test/helpers.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");

describe("token failures have distinct codes", () => {
  const forged = async () => {
    const other = new Auth({ secret: "another-secret-another-secret-another" });
    return other.sign({ id: "u1", name: "Mallory", org: "acme" }, "s1");
  };
  const expired = () =>
    new Auth({ secret: TEST_SECRET, ttlSeconds: -10 }).sign(
      { id: "u1", name: "Old", org: "acme" },
      "s1",
    );
  const noneAlg = () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    return `${enc({ alg: "none", typ: "JWT" })}.${enc({ sub: "u1", name: "Eve", org: "acme", sid: "s1", exp })}.`;
  };
  const noExp = () =>
    new SignJWT({ name: "Eve", org: "acme", sid: "s1" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("u1")
      .sign(new TextEncoder().encode(TEST_SECRET));
  const wrongAlg = () =>
    new SignJWT({ name: "Eve", org: "acme", sid: "s1" })
      .setProtectedHeader({ alg: "HS512" })
      .setSubject("u1")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(TEST_SECRET));

  it("on actor calls and connections", async () => {
    const codeOf = async (token: string | undefined) => {
      const list = app.client.chatRoomList.getOrCreate(["acme"], { params: { token } });
      const err = await list.listRooms().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ActorError);
      return (err as ActorError).code;
    };
    expect(await codeOf(undefined)).toBe("auth_required");
    expect(await codeOf(await expired())).toBe("token_expired");
    expect(await codeOf(await forged())).toBe("invalid_token");
    expect(await codeOf(noneAlg())).toBe("invalid_token");
    expect(await codeOf(await noExp())).toBe("invalid_token");
    expect(await codeOf(await wrongAlg())).toBe("invalid_token");

    const conn = app.client.chatRoomList
      .getOrCreate(["acme"], { params: { token: await forged() } })
      .connect();
    const error = await new Promise<{ code: string }>((resolve) => conn.onError(resolve));
    expect(error.code).toBe("invalid_token");
    await conn.dispose();
  });
});

describe("resolveAuthSecret", () => {
  it("refuses to run in production without AUTH_SECRET, generates and keeps one in dev", async () => {
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { resolveAuthSecret } = await import("./auth.js");
    expect(() => resolveAuthSecret({ NODE_ENV: "production" })).toThrow(/AUTH_SECRET is not set/);
    expect(() => resolveAuthSecret({ NODE_ENV: "production", AUTH_SECRET: "short" })).toThrow(
      /at least 32/,
    );
    expect(resolveAuthSecret({ AUTH_SECRET: "given" })).toBe("given");
    const dir = await mkdtemp(join(tmpdir(), "chat-secret-"));
    const printed = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      const file = join(dir, "nested", "secret");
      const first = resolveAuthSecret({}, file);
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      expect(resolveAuthSecret({}, file)).toBe(first);
      // Generating is announced once, with where the secret is kept but never the secret itself
      // (terminal output ends up in logs and screen shares); reading it back is silent.
      expect(printed.mock.calls).toEqual([
        [
          `[chat] AUTH_SECRET is not set: generated a development secret, kept in ${file} (not printed).`,
        ],
      ]);
      expect(JSON.stringify(printed.mock.calls)).not.toContain(first);
    } finally {
      printed.mockRestore();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
