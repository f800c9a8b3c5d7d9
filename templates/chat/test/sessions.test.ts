// Sessions end for real in the chat: signing out (or being removed) refuses the session's tokens
// at once on every HTTP route, on new actor connections and by refresh, and closes its open
// connections with a reason that sends the client to sign-in; and every refusal of credentials
// is a 401, of permission a 403, on the app's routes and the actor routes alike. (How refresh is
// bounded by the session is tested with troupe/accounts.)

import { Auth } from "troupe/accounts";
import type { ActorError } from "troupe/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  errorOf,
  startTestApp,
  TEST_SECRET,
  type TestAccount,
  type TestApp,
  waitFor,
} from "./helpers.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

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
  record("GET /api/search", await app.get("/api/search?q=hello", token));
  record("POST /api/auth/refresh", await app.post("/api/auth/refresh", undefined, token));
  record("POST /api/auth/sign-out", await app.post("/api/auth/sign-out", undefined, token));
  return results;
}

/** The actor routes, raw: resolve and an action, on the room list and on a room. */
async function actorRoutes(org: string, roomId: string, token: string | undefined) {
  const params = token === undefined ? undefined : { token };
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${app.url}/api/troupe${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as any;
    return [path, res.status, json.error?.code ?? null] as const;
  };
  const list = { name: "chatRoomList", key: [org], mode: "getOrCreate" };
  const room = { name: "chatRoom", key: [org, roomId], mode: "get" };
  return [
    await call("/actors/resolve", { ...list, params }),
    await call("/actors/action/listRooms", { actor: list, args: [], params }),
    await call("/actors/resolve", { ...room, params }),
    await call("/actors/action/getRoom", { actor: room, args: [], params }),
  ];
}

/** How a WebSocket connection to the room ends: the code the client reports. */
async function connectionRefusal(org: string, roomId: string, token: string | undefined) {
  const conn = app.client.chatRoom.get([org, roomId], { params: { token } }).connect();
  try {
    const error = await new Promise<ActorError>((resolve) => conn.onError(resolve));
    await waitFor(() => conn.status === "disconnected", { what: "the connection to stop" });
    return error.code;
  } finally {
    await conn.dispose();
  }
}

describe("auth failures are 401 and 403 everywhere", () => {
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

  it("the actor routes and connections: 401 without a valid token, 403 for another organisation", async () => {
    const ada = await app.signIn("Ada", "status-actors");
    const room = await app.client.chatRoomList
      .getOrCreate(["status-actors"], { params: { token: ada.token } })
      .createRoom("general");
    const outsider = await app.signIn("Mallory", "status-outsider");
    const forged = await new Auth({ secret: "another-secret-0123456789abcdef0123" }).sign(ada.user);

    const statuses = async (token: string | undefined) =>
      (await actorRoutes("status-actors", room.id, token)).map(([, status, code]) => [
        status,
        code,
      ]);
    const four = (status: number, code: string | null) => Array(4).fill([status, code]);
    expect(await statuses(undefined)).toEqual(four(401, "auth_required"));
    expect(await statuses(forged)).toEqual(four(401, "invalid_token"));
    expect(await statuses(await expiredTwin(ada))).toEqual(four(401, "token_expired"));
    expect(await statuses(outsider.token)).toEqual(four(403, "forbidden"));
    expect(await statuses(ada.token)).toEqual(four(200, null));

    // Over a WebSocket the code arrives with the refusal and the connection stops.
    expect(await connectionRefusal("status-actors", room.id, undefined)).toBe("auth_required");
    expect(await connectionRefusal("status-actors", room.id, forged)).toBe("invalid_token");
    expect(await connectionRefusal("status-actors", room.id, await expiredTwin(ada))).toBe(
      "token_expired",
    );
    expect(await connectionRefusal("status-actors", room.id, outsider.token)).toBe("forbidden");

    await app.post("/api/auth/sign-out", undefined, ada.token);
    expect(await statuses(ada.token)).toEqual(four(401, "session_revoked"));
    expect(await connectionRefusal("status-actors", room.id, ada.token)).toBe("session_revoked");
  });
});

describe("sign-out revokes at once", () => {
  it("closes the session's open connections with session_revoked; other sessions stay", async () => {
    const ada = await app.signIn("Ada", "signout-live");
    const list = app.client.chatRoomList.getOrCreate(["signout-live"], {
      params: { token: ada.token },
    });
    const room = await list.createRoom("general");
    // A second session of the same person (another device) is not signed out.
    const other = await app.post("/api/auth/sign-in", {
      org: "signout-live",
      login: ada.login,
      password: "test-password-1234",
    });
    expect(other.status).toBe(200);

    const listConn = list.connect();
    const roomConn = app.client.chatRoom
      .get(["signout-live", room.id], { params: { token: ada.token } })
      .connect();
    const otherConn = app.client.chatRoom
      .get(["signout-live", room.id], { params: { token: other.body.token } })
      .connect();
    const errors: ActorError[] = [];
    const closes: { code: number; reason: string }[] = [];
    for (const conn of [listConn, roomConn]) {
      conn.onError((e) => errors.push(e));
      conn.onClose((e) => closes.push(e));
    }
    try {
      await waitFor(() => [listConn, roomConn, otherConn].every((c) => c.status === "connected"), {
        what: "three connections",
      });
      expect(app.server.auth.revocations?.openConnections).toBe(3);

      expect(await app.post("/api/auth/sign-out", undefined, ada.token)).toEqual({
        status: 200,
        body: { revoked: 1 },
      });
      await waitFor(() => closes.length === 2 && errors.length === 2, {
        what: "both connections of the signed-out session to close",
      });
      expect(closes).toEqual([
        { code: 4000, reason: "session_revoked" },
        { code: 4000, reason: "session_revoked" },
      ]);
      expect(errors.map((e) => [e.code, e.metadata])).toEqual([
        ["connection_closed", { code: 4000, reason: "session_revoked" }],
        ["connection_closed", { code: 4000, reason: "session_revoked" }],
      ]);
      await waitFor(() => listConn.status === "disconnected" && roomConn.status === "disconnected");
      // Not a reconnect loop: a call on a closed connection fails at once.
      expect((await errorOf(roomConn.getRoom())).code).toBe("connection_closed");
      // The other session's connection works on.
      expect(otherConn.status).toBe("connected");
      expect((await otherConn.getRoom()).room.name).toBe("general");
      expect(app.server.auth.revocations?.openConnections).toBe(1);
    } finally {
      await Promise.all([listConn.dispose(), roomConn.dispose(), otherConn.dispose()]);
    }
  });

  it("an admin removing a member closes their connections with account_removed", async () => {
    const admin = await app.signIn("Admin", "remove-live");
    const bo = await app.signIn("Bo", "remove-live");
    const conn = app.client.chatRoomList
      .getOrCreate(["remove-live"], { params: { token: bo.token } })
      .connect();
    const errors: ActorError[] = [];
    conn.onError((e) => errors.push(e));
    try {
      await waitFor(() => conn.status === "connected");
      expect((await del(`/api/org/members/${bo.user.id}`, admin.token)).status).toBe(200);
      await waitFor(() => errors.length === 1, { what: "Bo's connection to close" });
      expect(errors[0]!.metadata).toEqual({ code: 4000, reason: "account_removed" });
      const me = await app.get("/api/me", bo.token);
      expect([me.status, me.body.error.code]).toEqual([401, "account_removed"]);
    } finally {
      await conn.dispose();
    }
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
    const list = app.client.chatRoomList.getOrCreate(["signout-restart"], {
      params: { token: ada.token },
    });
    expect((await errorOf(list.listRooms())).code).toBe("session_revoked");
    expect((await app.get("/api/me", bo.token)).status).toBe(200);
  });
});
