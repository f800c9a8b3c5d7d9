// Sign-in over HTTP and every token failure, on HTTP routes and on actor connections.
import { SignJWT } from "jose";
import { ActorError } from "troupe/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, TEST_SECRET, type TestApp } from "../test/helpers.js";
import { Auth } from "./auth.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${app.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function me(token?: string) {
  const res = await fetch(`${app.url}/api/me`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe("sign-in", () => {
  it("returns a token carrying a new user id, the name and the org", async () => {
    const a = await post("/api/auth/sign-in", { displayName: "  Ada  ", org: "acme" });
    expect(a.status).toBe(200);
    expect(a.body.user).toMatchObject({ name: "Ada", org: "acme" });
    expect(a.body.user.id).toMatch(/^[0-9a-f-]{36}$/);
    const b = await post("/api/auth/sign-in", { displayName: "Ada", org: "acme" });
    expect(b.body.user.id).not.toBe(a.body.user.id);
    expect((await me(a.body.token)).body.user).toEqual(a.body.user);
  });

  it("refuses bad input with invalid_input", async () => {
    for (const body of [
      { displayName: "", org: "acme" },
      { displayName: "x".repeat(41), org: "acme" },
      { displayName: "Ada", org: "Acme Inc" },
      { displayName: "Ada", org: "a" },
      { displayName: "Ada" },
      "not json",
    ]) {
      const res = await post("/api/auth/sign-in", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("invalid_input");
    }
  });

  it("refreshes a token, keeping the user", async () => {
    const { token, user } = await app.signIn("Bo", "acme");
    const res = await post("/api/auth/refresh", {}, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.body.user).toEqual(user);
  });
});

describe("token failures have distinct codes", () => {
  const forged = async () => {
    const other = new Auth({ secret: "another-secret-another-secret-another" });
    return other.sign({ id: "u1", name: "Mallory", org: "acme" });
  };
  const expired = () =>
    new Auth({ secret: TEST_SECRET, ttlSeconds: -10 }).sign({ id: "u1", name: "Old", org: "acme" });
  const noneAlg = () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const exp = Math.floor(Date.now() / 1000) + 3600;
    return `${enc({ alg: "none", typ: "JWT" })}.${enc({ sub: "u1", name: "Eve", org: "acme", exp })}.`;
  };
  const wrongAlg = () =>
    new SignJWT({ name: "Eve", org: "acme" })
      .setProtectedHeader({ alg: "HS512" })
      .setSubject("u1")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(TEST_SECRET));

  it("over HTTP", async () => {
    expect((await me()).body.error.code).toBe("auth_required");
    expect((await me()).status).toBe(401);
    expect((await me(await expired())).body.error.code).toBe("token_expired");
    expect((await me(await forged())).body.error.code).toBe("invalid_token");
    expect((await me("garbage.token.here")).body.error.code).toBe("invalid_token");
    expect((await me(noneAlg())).body.error.code).toBe("invalid_token");
    expect((await me(await wrongAlg())).body.error.code).toBe("invalid_token");
  });

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

    const conn = app.client.chatRoomList
      .getOrCreate(["acme"], { params: { token: await forged() } })
      .connect();
    const error = await new Promise<{ code: string }>((resolve) => conn.onError(resolve));
    expect(error.code).toBe("invalid_token");
    await conn.dispose();
  });

  it("an expired token can be refreshed within the grace period, a forged one cannot", async () => {
    const ok = await post("/api/auth/refresh", {}, { authorization: `Bearer ${await expired()}` });
    expect(ok.status).toBe(200);
    expect(ok.body.user).toEqual({ id: "u1", name: "Old", org: "acme" });
    const bad = await post("/api/auth/refresh", {}, { authorization: `Bearer ${await forged()}` });
    expect(bad.body.error.code).toBe("invalid_token");
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
    try {
      const file = join(dir, "nested", "secret");
      const first = resolveAuthSecret({}, file);
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      expect(resolveAuthSecret({}, file)).toBe(first);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
