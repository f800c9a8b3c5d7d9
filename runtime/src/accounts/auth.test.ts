// Token rules (exp required, claims) and every token failure, by `Auth` itself and over the
// account routes. Organisations, invites and passwords are tested in accounts.test.ts.
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Auth } from "./auth.js";
import { type AccountsTestApp, startAccountsTestApp, TEST_SECRET } from "./test-app.js";

let app: AccountsTestApp;
beforeAll(async () => {
  app = await startAccountsTestApp();
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

const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");

describe("token rules", () => {
  const auth = new Auth({ secret: TEST_SECRET });
  const key = new TextEncoder().encode(TEST_SECRET);

  it("a signed token carries the user, the session and an expiry", async () => {
    const token = await auth.sign({ id: "u1", name: "Ada", org: "acme" }, "s1");
    const before = Date.now();
    const claims = await auth.verifyClaims(token);
    expect(claims.user).toEqual({ id: "u1", name: "Ada", org: "acme" });
    expect(claims.sessionId).toBe("s1");
    expect(claims.expiresAt).toBeGreaterThan(before);
    expect(claims.expiresAt).toBeLessThanOrEqual(before + auth.ttlSeconds * 1000 + 1000);
    expect(await auth.verify(token)).toEqual(claims.user);
  });

  it("refuses a correctly signed token without exp", async () => {
    const noExp = await new SignJWT({ name: "Eve", org: "acme", sid: "s1" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("u1")
      .sign(key);
    await expect(auth.verify(noExp)).rejects.toMatchObject({ code: "invalid_token" });
  });

  it("refuses a correctly signed token without a session id or user", async () => {
    const noSid = await new SignJWT({ name: "Eve", org: "acme" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("u1")
      .setExpirationTime("1h")
      .sign(key);
    await expect(auth.verify(noSid)).rejects.toMatchObject({ code: "invalid_token" });
    const noSub = await new SignJWT({ name: "Eve", org: "acme", sid: "s1" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("1h")
      .sign(key);
    await expect(auth.verify(noSub)).rejects.toMatchObject({ code: "invalid_token" });
  });

  it("accepts an expired token only within the refresh grace it is asked for", async () => {
    const expired = await new Auth({ secret: TEST_SECRET, ttlSeconds: -10 }).sign(
      { id: "u1", name: "Old", org: "acme" },
      "s1",
    );
    await expect(auth.verify(expired)).rejects.toMatchObject({ code: "token_expired" });
    await expect(auth.verifyClaims(expired, { allowExpiredFor: 60 })).resolves.toMatchObject({
      sessionId: "s1",
    });
  });
});

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

  it("over HTTP", async () => {
    expect((await me()).body.error.code).toBe("auth_required");
    expect((await me()).status).toBe(401);
    expect((await me(await expired())).body.error.code).toBe("token_expired");
    expect((await me(await forged())).body.error.code).toBe("invalid_token");
    expect((await me("garbage.token.here")).body.error.code).toBe("invalid_token");
    expect((await me(noneAlg())).body.error.code).toBe("invalid_token");
    expect((await me(await wrongAlg())).body.error.code).toBe("invalid_token");
    expect((await me(await noExp())).body.error.code).toBe("invalid_token");
  });

  it("an expired token can be refreshed within the grace period, a forged one cannot", async () => {
    const ada = await app.signIn("Ada", "acme");
    const claims = await app.auth.verifyClaims(ada.token);
    const expiredAda = await new Auth({ secret: TEST_SECRET, ttlSeconds: -10 }).sign(
      ada.user,
      claims.sessionId,
    );
    const ok = await post("/api/auth/refresh", {}, { authorization: `Bearer ${expiredAda}` });
    expect(ok.status).toBe(200);
    expect(ok.body.user).toEqual(ada.user);
    expect((await me(ok.body.token)).body.user).toEqual(ada.user);
    const bad = await post("/api/auth/refresh", {}, { authorization: `Bearer ${await forged()}` });
    expect(bad.body.error.code).toBe("invalid_token");
    // Well signed, but for a session that never existed.
    const unknown = await post(
      "/api/auth/refresh",
      {},
      { authorization: `Bearer ${await expired()}` },
    );
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe("session_revoked");
  });
});
