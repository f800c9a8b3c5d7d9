// An open connection ends with its token: closed with the reconnect code (4003) at `exp`, it
// comes back by itself with a refreshed token. A person who signs out or is removed has their
// connections closed at once (4000, with the reason), and they do not come back.
import type { ActorError } from "troupe/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestAccount, type TestApp, waitFor } from "../../test/helpers.js";

/** Short, so that tokens expire during the test; long enough to connect with a fresh one. */
const TTL_SECONDS = 6;

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ tokenTtlSeconds: TTL_SECONDS });
});
afterAll(() => app?.close());

/**
 * What a client does (the web app's `getParams` does the same): the current token, refreshed
 * once it has expired. A refused refresh is kept, and the stale token is sent, which the server
 * refuses: the connection ends instead of retrying forever.
 */
function tokenSource(account: TestAccount) {
  const source = {
    token: account.token,
    calls: 0,
    refreshes: 0,
    refused: undefined as string | undefined,
    async getParams() {
      source.calls++;
      const exp = JSON.parse(Buffer.from(source.token.split(".")[1]!, "base64url").toString()).exp;
      if (exp * 1000 - Date.now() < 1000) {
        const res = await app.post("/api/auth/refresh", undefined, source.token);
        if (res.status === 200) {
          source.token = res.body.token;
          source.refreshes++;
        } else {
          source.refused = res.body.error.code;
        }
      }
      return { token: source.token };
    },
  };
  return source;
}

describe("token expiry on open connections", () => {
  it("closes a room-list connection at expiry; it comes back with a refreshed token", {
    timeout: 60_000,
  }, async () => {
    const ada = await app.signIn("Ada", "expiry-org");
    const source = tokenSource(ada);
    const conn = app.client.chatRoomList
      .getOrCreate(["expiry-org"], { getParams: source.getParams })
      .connect();
    const statuses: string[] = [];
    conn.onStatusChange((s) => statuses.push(s));
    const seen: unknown[] = [];
    conn.on("roomsChanged", (rooms) => seen.push(rooms));
    try {
      await waitFor(() => conn.status === "connected", { what: "the first connection" });
      await waitFor(() => source.refreshes >= 1 && conn.status === "connected", {
        timeout: 45_000,
        what: "a reconnect with a refreshed token",
      });
      expect(statuses).toContain("connecting");
      // Live again, subscriptions included: an event reaches the reconnected connection.
      await app.client.chatRoomList
        .getOrCreate(["expiry-org"], {
          params: { token: (await app.signIn("Bo", "expiry-org")).token },
        })
        .createRoom("after expiry");
      await waitFor(() => seen.length > 0, { what: "roomsChanged after the reconnect" });
      expect(await conn.listRooms()).toHaveLength(1);
    } finally {
      await conn.dispose();
    }
  });

  it("does the same for a room connection", { timeout: 60_000 }, async () => {
    const ada = await app.signIn("Ada", "expiry-room");
    const room = await app.client.chatRoomList
      .getOrCreate(["expiry-room"], { params: { token: ada.token } })
      .createRoom("general");
    const source = tokenSource(ada);
    const conn = app.client.chatRoom
      .get(["expiry-room", room.id], { getParams: source.getParams })
      .connect();
    try {
      await waitFor(() => source.refreshes >= 1 && conn.status === "connected", {
        timeout: 45_000,
        what: "a reconnect with a refreshed token",
      });
      const sent = await conn.send("still here");
      expect(sent.authorId).toBe(ada.user.id);
    } finally {
      await conn.dispose();
    }
  });

  it("a signed-out session's connection closes at once with the reason", {
    timeout: 60_000,
  }, async () => {
    const ada = await app.signIn("Ada", "expiry-revoked");
    const source = tokenSource(ada);
    const conn = app.client.chatRoomList
      .getOrCreate(["expiry-revoked"], { getParams: source.getParams })
      .connect();
    const errors: ActorError[] = [];
    conn.onError((e) => errors.push(e));
    try {
      await waitFor(() => conn.status === "connected", { what: "the first connection" });
      expect((await app.post("/api/auth/sign-out", undefined, ada.token)).status).toBe(200);
      await waitFor(() => conn.status === "disconnected", {
        timeout: 45_000,
        what: "the connection to stop",
      });
      // Closed at once with the reason (not at expiry, and not to come back with a refresh).
      expect(source.refreshes).toBe(0);
      expect(errors.map((e) => [e.code, e.metadata])).toEqual([
        ["connection_closed", { code: 4000, reason: "session_revoked" }],
      ]);
      await expect(conn.listRooms()).rejects.toMatchObject({ code: "connection_closed" });
      // And the session cannot be refreshed either.
      expect((await app.post("/api/auth/refresh", undefined, source.token)).body.error.code).toBe(
        "session_revoked",
      );
    } finally {
      await conn.dispose();
    }
  });

  it("a removed member's connection closes at once; the others stay", {
    timeout: 60_000,
  }, async () => {
    const admin = await app.signIn("Admin", "expiry-removed");
    const bo = await app.signIn("Bo", "expiry-removed");
    const boSource = tokenSource(bo);
    const adminSource = tokenSource(admin);
    const boConn = app.client.chatRoomList
      .getOrCreate(["expiry-removed"], { getParams: boSource.getParams })
      .connect();
    const adminConn = app.client.chatRoomList
      .getOrCreate(["expiry-removed"], { getParams: adminSource.getParams })
      .connect();
    const boErrors: ActorError[] = [];
    boConn.onError((e) => boErrors.push(e));
    try {
      await waitFor(() => boConn.status === "connected" && adminConn.status === "connected", {
        what: "both connections",
      });
      const res = await fetch(`${app.url}/api/org/members/${bo.user.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${admin.token}` },
      });
      expect(res.status).toBe(200);
      await waitFor(() => boConn.status === "disconnected", {
        timeout: 45_000,
        what: "Bo's connection to stop",
      });
      expect(boSource.refreshes).toBe(0);
      expect(boErrors.map((e) => [e.code, e.metadata])).toEqual([
        ["connection_closed", { code: 4000, reason: "account_removed" }],
      ]);
      expect((await app.post("/api/auth/refresh", undefined, boSource.token)).body.error.code).toBe(
        "account_removed",
      );
      await waitFor(() => adminSource.refreshes >= 1 && adminConn.status === "connected", {
        timeout: 45_000,
        what: "the admin's connection to come back",
      });
      expect(await adminConn.listRooms()).toEqual([]);
    } finally {
      await boConn.dispose();
      await adminConn.dispose();
    }
  });
});
