// Sessions end for real: signing out (or being removed) refuses the session's tokens at once on
// every route and by refresh, a restart remembers it, open connections a session follows are
// closed with the reason, and refresh is bounded by the session's absolute lifetime and idle
// limit. (The chat tests the same refusals on its actor routes and live connections.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SESSION_IDLE_SECONDS, SESSION_MAX_LIFETIME_SECONDS } from "./accounts.js";
import { Auth } from "./auth.js";
import { type RevocationReason, SessionRevocations } from "./revocations.js";
import {
  type AccountsTestApp,
  startAccountsTestApp,
  TEST_SECRET,
  type TestAccount,
} from "./test-app.js";

let app: AccountsTestApp;
beforeAll(async () => {
  app = await startAccountsTestApp();
});
afterAll(() => app?.close());

const DAY_MS = 86_400_000;

/** The token's claims, read without verifying (as the web app does). */
function claimsOf(token: string): { sid: string; exp: number; iat: number } {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());
}

/** A well-signed token of the same session that expired 10 s ago. */
function expiredTwin(account: TestAccount): Promise<string> {
  return new Auth({ secret: TEST_SECRET, ttlSeconds: -10 }).sign(
    account.user,
    claimsOf(account.token).sid,
  );
}

async function del(path: string, token: string) {
  const res = await fetch(`${app.url}${path}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** Every route that needs a token, called with `token`: [route, status, code]. */
async function everyRoute(token: string | undefined, memberId: string) {
  const results: [string, number, string | undefined][] = [];
  const record = (route: string, r: { status: number; body: any }) =>
    results.push([route, r.status, r.body?.error?.code]);
  record("GET /api/me", await app.get("/api/me", token));
  record("GET /api/org/invite", await app.get("/api/org/invite", token));
  record("POST /api/org/invite", await app.post("/api/org/invite", undefined, token));
  record("GET /api/org/members", await app.get("/api/org/members", token));
  if (token !== undefined) {
    record("DELETE /api/org/members/:id", await del(`/api/org/members/${memberId}`, token));
  }
  record("POST /api/auth/refresh", await app.post("/api/auth/refresh", undefined, token));
  record("POST /api/auth/sign-out", await app.post("/api/auth/sign-out", undefined, token));
  return results;
}

describe("auth failures are 401 everywhere", () => {
  it("the app's routes: 401 for a missing, expired, forged or revoked token", async () => {
    const ada = await app.signIn("Ada", "status-routes");
    const bo = await app.signIn("Bo", "status-routes");
    const all = (status: number, code: string, routes: string[]) =>
      routes.map((r) => [r, status, code]);
    const routes = (await everyRoute(undefined, bo.user.id)).map(([r]) => r);
    expect(await everyRoute(undefined, bo.user.id)).toEqual(all(401, "auth_required", routes));

    const forged = await new Auth({ secret: "another-secret-0123456789abcdef0123" }).sign(ada.user);
    const withToken = (await everyRoute(forged, bo.user.id)).map(([r]) => r);
    expect(await everyRoute(forged, bo.user.id)).toEqual(all(401, "invalid_token", withToken));

    // Expired: refused everywhere but by refresh and sign-out, which take an expired token of a
    // live session (that is what they are for).
    const expired = await everyRoute(await expiredTwin(ada), bo.user.id);
    expect(expired.filter(([r]) => !/refresh|sign-out/.test(r))).toEqual(
      all(401, "token_expired", withToken).filter(([r]) => !/refresh|sign-out/.test(String(r))),
    );
    expect(expired.filter(([r]) => /refresh|sign-out/.test(r)).map(([, s]) => s)).toEqual([
      200, 200,
    ]);
    // That sign-out revoked Ada's session: now every route says so.
    expect(await everyRoute(ada.token, bo.user.id)).toEqual(all(401, "session_revoked", withToken));
  });

  it("a restarted server still refuses a revoked token (revocations are loaded from SQL)", async () => {
    const ada = await app.signIn("Ada", "signout-restart");
    const bo = await app.signIn("Bo", "signout-restart");
    const admin = await app.signIn("Cy", "signout-restart-2");
    const cyTwo = await app.signIn("Dee", "signout-restart-2");
    await app.post("/api/auth/sign-out", undefined, ada.token);
    expect((await del(`/api/org/members/${cyTwo.user.id}`, admin.token)).status).toBe(200);
    await app.restart();
    const refused = await app.get("/api/me", ada.token);
    expect([refused.status, refused.body.error.code]).toEqual([401, "session_revoked"]);
    const removed = await app.get("/api/me", cyTwo.token);
    expect([removed.status, removed.body.error.code]).toEqual([401, "account_removed"]);
    expect((await app.get("/api/me", bo.token)).status).toBe(200);
  });
});

describe("SessionRevocations", () => {
  it("closes a revoked session's followed connections once, with the reason; others stay", () => {
    const revocations = new SessionRevocations(60_000);
    const closed: [string, RevocationReason][] = [];
    const createdAt = new Date();
    revocations.track("s1", "c1", (reason) => closed.push(["c1", reason]));
    revocations.track("s1", "c2", (reason) => closed.push(["c2", reason]));
    const untrack = revocations.track("s2", "c3", (reason) => closed.push(["c3", reason]));
    revocations.track("s3", "c4", () => {
      throw new Error("already gone");
    });
    expect(revocations.openConnections).toBe(4);

    revocations.revoke(
      [
        { id: "s1", createdAt },
        { id: "s3", createdAt },
      ],
      "session_revoked",
    );
    expect(closed).toEqual([
      ["c1", "session_revoked"],
      ["c2", "session_revoked"],
    ]);
    expect(revocations.reasonFor("s1")).toBe("session_revoked");
    expect(revocations.reasonFor("s2")).toBeUndefined();
    untrack();
    expect(revocations.openConnections).toBe(0);

    // A removal after a sign-out is the reason to show; a sign-out after a removal is not.
    revocations.revoke([{ id: "s1", createdAt }], "account_removed");
    revocations.revoke([{ id: "s1", createdAt }], "session_revoked");
    expect(revocations.reasonFor("s1")).toBe("account_removed");
    expect(closed).toHaveLength(2);
  });

  it("forgets nothing a token could still use, and nothing older", () => {
    const revocations = new SessionRevocations(60_000);
    revocations.revoke(
      [{ id: "old", createdAt: new Date(Date.now() - 61_000) }],
      "session_revoked",
    );
    expect(revocations.reasonFor("old")).toBeUndefined();
  });
});

describe("refresh is bounded by the session", () => {
  /** Moves a session's start and last refresh into the past. */
  async function age(token: string, createdAgoMs: number, refreshedAgoMs: number) {
    const now = Date.now();
    await app.sql("UPDATE sessions SET created_at = $2, last_refreshed_at = $3 WHERE id = $1", [
      claimsOf(token).sid,
      new Date(now - createdAgoMs),
      new Date(now - refreshedAgoMs),
    ]);
  }

  it("records each refresh, and refreshes a session in use", async () => {
    const ada = await app.signIn("Ada", "bounded-ok");
    await age(ada.token, 10 * DAY_MS, 6 * DAY_MS);
    const ok = await app.post("/api/auth/refresh", undefined, await expiredTwin(ada));
    expect(ok.status).toBe(200);
    const [row] = await app.sql<{ last_refreshed_at: Date }>(
      "SELECT last_refreshed_at FROM sessions WHERE id = $1",
      [claimsOf(ada.token).sid],
    );
    // It was six days ago; the refresh moved it to now.
    expect(row!.last_refreshed_at.getTime()).toBeGreaterThan(Date.now() - DAY_MS);
  });

  it("refuses a session past its absolute lifetime, however recently refreshed", async () => {
    const ada = await app.signIn("Ada", "bounded-lifetime");
    await age(ada.token, SESSION_MAX_LIFETIME_SECONDS * 1000 + 60_000, 60_000);
    const refused = await app.post("/api/auth/refresh", undefined, ada.token);
    expect([refused.status, refused.body.error.code]).toEqual([401, "session_expired"]);
  });

  it("refuses a session idle past the idle limit", async () => {
    const ada = await app.signIn("Ada", "bounded-idle");
    await age(
      ada.token,
      SESSION_IDLE_SECONDS * 1000 + 120_000,
      SESSION_IDLE_SECONDS * 1000 + 60_000,
    );
    const refused = await app.post("/api/auth/refresh", undefined, ada.token);
    expect([refused.status, refused.body.error.code]).toEqual([401, "session_expired"]);
  });

  it("refuses a token that expired longer ago than the idle limit", async () => {
    const ada = await app.signIn("Ada", "bounded-old-token");
    const ancient = await new Auth({
      secret: TEST_SECRET,
      ttlSeconds: -(SESSION_IDLE_SECONDS + 60),
    }).sign(ada.user, claimsOf(ada.token).sid);
    const refused = await app.post("/api/auth/refresh", undefined, ancient);
    expect([refused.status, refused.body.error.code]).toEqual([401, "token_expired"]);
  });

  it("a refreshed token never outlives its session", async () => {
    const ada = await app.signIn("Ada", "bounded-end");
    // Two minutes left of the session, far less than a token's 15.
    await age(ada.token, SESSION_MAX_LIFETIME_SECONDS * 1000 - 120_000, 60_000);
    const [row] = await app.sql<{ created_at: Date }>(
      "SELECT created_at FROM sessions WHERE id = $1",
      [claimsOf(ada.token).sid],
    );
    const ok = await app.post("/api/auth/refresh", undefined, ada.token);
    expect(ok.status).toBe(200);
    const sessionEnd = row!.created_at.getTime() + SESSION_MAX_LIFETIME_SECONDS * 1000;
    expect(claimsOf(ok.body.token).exp * 1000).toBeLessThanOrEqual(sessionEnd);
    expect(claimsOf(ok.body.token).exp * 1000).toBeGreaterThan(Date.now());
  });
});
