// The chat template in production mode (its `start` script, the built frontend, Postgres for the
// app and for actor state), driven over HTTP and WebSockets with the typed client, as a mobile
// app or a script would: organisations, invite links and passwords, rooms, live messages,
// presence, typing, search, every token failure, the built frontend and its assets, and
// restarts that keep everything.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import type { ActorErrorLike, ConnStatus } from "troupe/client";
import { errorOf, waitFor } from "troupe/test";
import { afterEach, describe, expect, it } from "vitest";
import { E2E_PASSWORD, useChatServer } from "./support/chat-fixture.js";
import { startChatProduction } from "./support/chat-server.js";
import { CHAT_DIST } from "./support/paths.js";
import { claimsOf, expiredToken, forgedToken, tokenWithoutExp } from "./support/tokens.js";

const chat = useChatServer();
const disposers: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (disposers.length) await disposers.pop()!();
});

/** A fresh organisation per test, so tests do not see each other's rooms. */
function newOrg(): string {
  return `org-${randomBytes(4).toString("hex")}`;
}

function roomList(org: string, token: string) {
  return chat.client().chatRoomList.getOrCreate([org], { params: { token } });
}

function connectList(org: string, token: string) {
  return track(roomList(org, token).connect());
}

function connectRoom(org: string, roomId: string, token: string) {
  return track(chat.client().chatRoom.get([org, roomId], { params: { token } }).connect());
}

function track<T extends { dispose(): Promise<void> }>(conn: T): T {
  disposers.push(() => conn.dispose());
  return conn;
}

/** Arrays of the events a connection received, by name. */
function collect(
  conn: { on(name: string, cb: (arg: any) => void): () => void },
  names: string[],
): Record<string, any[]> {
  const seen: Record<string, any[]> = {};
  for (const name of names) {
    seen[name] = [];
    conn.on(name, (arg) => seen[name]!.push(arg));
  }
  return seen;
}

async function getJson(path: string, token?: string) {
  const res = await fetch(`${chat.server.url}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe("production server", () => {
  it("answers its health check and the actor metadata route", async () => {
    expect(await getJson("/api/health")).toEqual({
      status: 200,
      body: { ok: true, database: "up" },
    });
    expect((await fetch(`${chat.server.url}/api/troupe/metadata`)).status).toBe(200);
  });

  it("serves the built frontend at / and at deep links, with its hashed assets", async () => {
    const built = await readFile(join(CHAT_DIST, "index.html"), "utf8");
    for (const path of ["/", "/rooms/some-room-id", "/some/deep/link?x=1"]) {
      const res = await fetch(`${chat.server.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toMatch(/^text\/html/);
      expect(await res.text(), path).toBe(built);
      // The page is revalidated at every load, so a deploy reaches open tabs at once.
      expect(res.headers.get("cache-control"), path).toMatch(/no-cache/);
    }

    const assets = [...built.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(
      assets.some((a) => a.endsWith(".js")),
      "index.html loads a script",
    ).toBe(true);
    for (const asset of assets) {
      // Vite names assets by content hash, so they can be cached for good.
      expect(asset).toMatch(/-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/);
      const res = await fetch(`${chat.server.url}${asset}`);
      expect(res.status, asset).toBe(200);
      expect(res.headers.get("cache-control"), asset).toMatch(/immutable/);
      const type = res.headers.get("content-type") ?? "";
      if (asset.endsWith(".js")) expect(type, asset).toMatch(/javascript/);
      if (asset.endsWith(".css")) expect(type, asset).toMatch(/^text\/css/);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(await readFile(join(CHAT_DIST, asset))), asset).toBe(true);
    }
  });

  it("refuses to start in production without AUTH_SECRET, and says why", async () => {
    const started = startChatProduction({ databaseUrl: chat.server.databaseUrl, authSecret: "" });
    await expect(started).rejects.toThrow(/exited \(1\)[\s\S]*AUTH_SECRET is not set/);
  });

  it("refuses to start on a port in use, in one sentence saying what to do", async () => {
    // Taken by something that is not the chat (it hangs up on everyone).
    const taken = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => taken.listen(0, resolve));
    const port = (taken.address() as AddressInfo).port;
    disposers.push(() => new Promise((resolve) => taken.close(() => resolve())));
    const started = startChatProduction({ databaseUrl: chat.server.databaseUrl, port });
    const err = (await started.catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/exited \(1\)/);
    const printed = err.message.split("\n").filter((l) => /^\[chat#\d+ (out|err)\]/.test(l));
    expect(printed).toEqual([
      `[chat#1 err] [chat] could not start: port ${port} is already in use (another \`pnpm dev\` or server?): stop what listens there, or set PORT to another port.`,
    ]);
  });

  it("answers unknown API routes with a JSON 404, not the page", async () => {
    const res = await fetch(`${chat.server.url}/api/no-such-route`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).error.code).toBe("not_found");
  });

  it("answers a missing asset with a 404, not the page", async () => {
    // A tab still running the previous deploy asks for chunks that no longer exist: HTML with a
    // 200 there makes the browser fail on a MIME type instead of a clear 404.
    const res = await fetch(`${chat.server.url}/assets/no-such-file-0123abcd.js`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type") ?? "").not.toMatch(/text\/html/);
  });
});

describe("organisations, invite links and passwords", () => {
  it("the first person creates the organisation; others join by its link and sign in again later", async () => {
    const org = newOrg();
    const ada = await chat.signIn("Ada", org);
    expect(ada.token.split(".")).toHaveLength(3);
    expect(ada.user).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: "Ada", org });
    expect(ada.role).toBe("admin");
    expect(await getJson("/api/me", ada.token)).toEqual({
      status: 200,
      body: { user: ada.user, role: "admin" },
    });
    const grace = await chat.signIn("Grace", org);
    expect(grace.role).toBe("member");
    expect(grace.user.org).toBe(org);

    // Returning: organisation, username, password. Same account, same id.
    const again = await chat.post("/api/auth/sign-in", {
      org,
      login: grace.login,
      password: E2E_PASSWORD,
    });
    expect(again.status).toBe(200);
    expect(again.body.user).toEqual(grace.user);
    // Same name again: a different person with another account, not a takeover.
    expect((await chat.signIn("Grace", org)).user.id).not.toBe(grace.user.id);
  });

  it("a wrong organisation, username or password gets one answer, without saying which", async () => {
    const org = newOrg();
    const ada = await chat.signIn("Ada", org);
    const eve = await chat.signIn("Eve", newOrg());
    for (const body of [
      { org, login: ada.login, password: "not-her-password" },
      { org, login: "nobody-here", password: E2E_PASSWORD },
      { org: newOrg(), login: ada.login, password: E2E_PASSWORD },
      // Eve's own, valid credentials, for Ada's organisation.
      { org, login: eve.login, password: E2E_PASSWORD },
    ]) {
      const res = await chat.post("/api/auth/sign-in", body);
      expect(res.status, JSON.stringify(body)).toBe(401);
      expect(res.body.error).toEqual({
        code: "invalid_credentials",
        message: "Wrong organisation, username or password.",
        metadata: null,
      });
    }
  });

  it("joining needs the organisation's current, unexpired link", async () => {
    const org = newOrg();
    const ada = await chat.signIn("Ada", org);
    const code = await chat.inviteCode(org);
    const account = { displayName: "Mallory", login: "mallory", password: E2E_PASSWORD };
    expect(
      (await chat.post("/api/auth/join", { code: "x".repeat(32), ...account })).body.error.code,
    ).toBe("invite_invalid");
    const renewed = await chat.post("/api/org/invite", {}, ada.token);
    expect(renewed.status).toBe(200);
    const old = await chat.post("/api/auth/join", { code, ...account });
    expect(old.body.error.code).toBe("invite_invalid");
    const ok = await chat.post("/api/auth/join", { code: renewed.body.invite.code, ...account });
    expect(ok.status).toBe(201);
    expect(ok.body.user.org).toBe(org);
  });

  it("refuses bad input with invalid_input", async () => {
    for (const [path, body] of [
      [
        "/api/auth/organisations",
        { orgName: "!", displayName: "Ada", login: "ada", password: E2E_PASSWORD },
      ],
      [
        "/api/auth/organisations",
        { orgName: "Fine", displayName: "  ", login: "ada", password: E2E_PASSWORD },
      ],
      [
        "/api/auth/organisations",
        { orgName: "Fine", displayName: "Ada", login: "ada", password: "short" },
      ],
      ["/api/auth/join", { code: "?", displayName: "Ada", login: "ada", password: E2E_PASSWORD }],
    ] as const) {
      const res = await chat.post(path, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("invalid_input");
    }
  });
});

describe("rooms and messages", () => {
  it("creates a room through chatRoomList; another member's list updates live", async () => {
    const org = newOrg();
    const ada = await chat.signIn("Ada", org);
    const grace = await chat.signIn("Grace", org);
    const graceList = connectList(org, grace.token);
    const events = collect(graceList, ["roomsChanged"]);
    await waitFor(() => graceList.status === "connected", { what: "Grace's list connection" });
    expect(await graceList.listRooms()).toEqual([]);

    const room = await roomList(org, ada.token).createRoom("general");
    expect(room).toMatchObject({ name: "general", createdBy: ada.user.id });
    const rooms = await waitFor(() => events.roomsChanged!.at(-1) as { id: string }[], {
      what: "roomsChanged on Grace's connection",
    });
    expect(rooms.map((r) => r.id)).toEqual([room.id]);
    expect((await graceList.listRooms()).map((r) => r.name)).toEqual(["general"]);
  });

  it("two people exchange messages live, see each other online and see typing", async () => {
    const org = newOrg();
    const ada = await chat.signIn("Ada", org);
    const grace = await chat.signIn("Grace", org);
    const room = await roomList(org, ada.token).createRoom("general");

    const a = connectRoom(org, room.id, ada.token);
    const aEvents = collect(a, ["message", "presence", "typing"]);
    await waitFor(() => a.status === "connected", { what: "Ada's room connection" });
    const b = connectRoom(org, room.id, grace.token);
    const bEvents = collect(b, ["message"]);
    await waitFor(() => b.status === "connected", { what: "Grace's room connection" });

    await waitFor(() => aEvents.presence!.some((p) => p.userId === grace.user.id), {
      what: "Grace's presence on Ada's connection",
    });
    expect(aEvents.presence!.find((p) => p.userId === grace.user.id)).toEqual({
      type: "join",
      userId: grace.user.id,
      name: "Grace",
    });
    expect((await a.getRoom()).online.map((u) => u.name).sort()).toEqual(["Ada", "Grace"]);

    const hello = await a.send("hello Grace");
    expect(hello).toMatchObject({ authorId: ada.user.id, authorName: "Ada", text: "hello Grace" });
    await waitFor(() => bEvents.message!.some((m) => m.id === hello.id), {
      what: "Ada's message on Grace's connection",
    });

    await b.typing();
    await waitFor(() => aEvents.typing!.some((t) => t.userId === grace.user.id && t.typing), {
      what: "Grace typing, on Ada's connection",
    });
    const reply = await b.send("hi Ada");
    await waitFor(() => aEvents.message!.some((m) => m.id === reply.id), {
      what: "Grace's reply on Ada's connection",
    });
    // Sending ends the typing indicator.
    await waitFor(() => aEvents.typing!.at(-1)?.typing === false, { what: "typing to stop" });
    expect(aEvents.typing!.map((t) => [t.name, t.typing])).toEqual([
      ["Grace", true],
      ["Grace", false],
    ]);

    const snapshot = await b.getRoom();
    expect(snapshot.messages.map((m) => [m.authorName, m.text])).toEqual([
      ["Ada", "hello Grace"],
      ["Grace", "hi Ada"],
    ]);

    await b.dispose();
    await waitFor(
      () => aEvents.presence!.some((p) => p.userId === grace.user.id && p.type === "leave"),
      { what: "Grace leaving, on Ada's connection" },
    );
    expect((await a.getRoom()).online.map((u) => u.name)).toEqual(["Ada"]);
  });

  it("search finds a sent message once it reached SQL, only within the organisation", async () => {
    const org = newOrg();
    const ada = await chat.signIn("Ada", org);
    const eve = await chat.signIn("Eve", newOrg());
    const room = await roomList(org, ada.token).createRoom("search");
    const word = `zebra${randomBytes(4).toString("hex")}`;
    const sent = await chat
      .client()
      .chatRoom.get([org, room.id], { params: { token: ada.token } })
      .send(`the ${word} crossed the road`);

    // Messages reach SQL in the background (the outbox): poll.
    const found = await waitFor(
      async () => {
        const { body } = await getJson(`/api/search?q=${word}`, ada.token);
        return body.results?.length ? body.results : undefined;
      },
      { timeout: 15_000, what: "the message in search results" },
    );
    expect(found).toEqual([
      expect.objectContaining({
        id: sent.id,
        roomId: room.id,
        roomName: "search",
        authorName: "Ada",
        text: `the ${word} crossed the road`,
      }),
    ]);
    expect(found[0].snippet).toContain(`<<${word}>>`);
    expect(await getJson(`/api/search?q=${word}`, eve.token)).toEqual({
      status: 200,
      body: { results: [], nextCursor: null },
    });
    expect((await getJson(`/api/search?q=${word}`)).body.error.code).toBe("auth_required");
  });
});

describe("tokens", () => {
  it("a forged token is refused everywhere with invalid_token", async () => {
    const org = newOrg();
    const ada = await chat.signIn("Ada", org);
    const room = await roomList(org, ada.token).createRoom("general");
    const forged = forgedToken({ id: ada.user.id, name: "Ada", org });

    expect(await getJson("/api/me", forged)).toMatchObject({
      status: 401,
      body: { error: { code: "invalid_token" } },
    });
    expect((await getJson("/api/search?q=x", forged)).body.error.code).toBe("invalid_token");
    expect((await errorOf(roomList(org, forged).listRooms())).code).toBe("invalid_token");
    const handle = chat.client().chatRoom.get([org, room.id], { params: { token: forged } });
    expect((await errorOf(handle.send("I am Ada"))).code).toBe("invalid_token");
    const conn = track(handle.connect());
    const err = await new Promise<{ code: string }>((resolve) => conn.onError(resolve));
    expect(err.code).toBe("invalid_token");

    // Nothing was posted under Ada's name.
    const real = chat.client().chatRoom.get([org, room.id], { params: { token: ada.token } });
    expect((await real.getRoom()).messages).toEqual([]);
  });

  it("an expired token is refused with token_expired, and can be refreshed", async () => {
    const org = newOrg();
    const ada = await chat.signIn("Ada", org);
    const expired = expiredToken(ada.user, chat.server.authSecret, claimsOf(ada.token).sid);

    expect(await getJson("/api/me", expired)).toMatchObject({
      status: 401,
      body: { error: { code: "token_expired" } },
    });
    expect((await errorOf(roomList(org, expired).createRoom("late"))).code).toBe("token_expired");
    const conn = track(roomList(org, expired).connect());
    const err = await new Promise<{ code: string }>((resolve) => conn.onError(resolve));
    expect(err.code).toBe("token_expired");

    const res = await fetch(`${chat.server.url}/api/auth/refresh`, {
      method: "POST",
      headers: { authorization: `Bearer ${expired}` },
    });
    expect(res.status).toBe(200);
    const refreshed = (await res.json()) as { token: string; user: unknown };
    expect(refreshed.user).toEqual(ada.user);
    expect(await roomList(org, refreshed.token).listRooms()).toEqual([]);

    // After signing out, the same expired token cannot be refreshed any more.
    expect((await chat.post("/api/auth/sign-out", {}, refreshed.token)).body).toEqual({
      revoked: 1,
    });
    const revoked = await chat.post("/api/auth/refresh", undefined, expired);
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.code).toBe("session_revoked");
  });

  it("a token without exp is refused, even signed with the server's secret", async () => {
    const org = newOrg();
    const ada = await chat.signIn("Ada", org);
    const forever = tokenWithoutExp(ada.token, chat.server.authSecret);
    expect((await getJson("/api/me", forever)).body.error.code).toBe("invalid_token");
    expect((await errorOf(roomList(org, forever).listRooms())).code).toBe("invalid_token");
    const conn = track(roomList(org, forever).connect());
    const err = await new Promise<{ code: string }>((resolve) => conn.onError(resolve));
    expect(err.code).toBe("invalid_token");
  });

  it("a token of another organisation gets forbidden; no token gets auth_required", async () => {
    const org = newOrg();
    const ada = await chat.signIn("Ada", org);
    const eve = await chat.signIn("Eve", newOrg());
    const room = await roomList(org, ada.token).createRoom("private");

    expect((await errorOf(roomList(org, eve.token).listRooms())).code).toBe("forbidden");
    expect((await errorOf(roomList(org, eve.token).createRoom("mine"))).code).toBe("forbidden");
    const handle = chat.client().chatRoom.get([org, room.id], { params: { token: eve.token } });
    expect((await errorOf(handle.getRoom())).code).toBe("forbidden");
    const conn = track(handle.connect());
    const err = await new Promise<{ code: string }>((resolve) => conn.onError(resolve));
    expect(err.code).toBe("forbidden");

    const anonymous = chat.client().chatRoomList.getOrCreate([org]);
    expect((await errorOf(anonymous.listRooms())).code).toBe("auth_required");
    expect((await getJson("/api/me")).body.error.code).toBe("auth_required");
  });
});

describe("restarts", () => {
  it("a graceful restart and a crash keep rooms and messages; live connections come back", {
    timeout: 180_000,
  }, async () => {
    const org = newOrg();
    const ada = await chat.signIn("Ada", org);
    const grace = await chat.signIn("Grace", org);
    const room = await roomList(org, ada.token).createRoom("durable");
    const a = connectRoom(org, room.id, ada.token);
    const b = connectRoom(org, room.id, grace.token);
    const aEvents = collect(a, ["message"]);
    const aStatuses: ConnStatus[] = [];
    a.onStatusChange((s) => aStatuses.push(s));
    // A timeline of the run, so that a slow reconnect says where the time went.
    const t0 = Date.now();
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${Date.now() - t0} ms ${what}`);
    a.onStatusChange((s) => mark(`Ada ${s}`));
    b.onStatusChange((s) => mark(`Grace ${s}`));
    // A retry that finds the server down is reported through onError (else printed).
    const errors: ActorErrorLike[] = [];
    a.onError((e) => errors.push(e));
    b.onError((e) => errors.push(e));
    const reconnected = (what: string) =>
      waitFor(() => a.status === "connected" && b.status === "connected", {
        // Generous: this is about coming back at all; the machine may be busy with other suites.
        timeout: 60_000,
        what: `${what} (timeline: ${timeline.join("; ")})`,
      });
    await waitFor(() => a.status === "connected" && b.status === "connected", {
      what: "both room connections",
    });
    const before = await a.send("before the restart");

    // SIGTERM: the server shuts down gracefully, then comes back on the same port.
    mark("SIGTERM");
    await chat.server.stop("SIGTERM");
    mark("stopped");
    await waitFor(() => a.status !== "connected", { what: "Ada's connection to notice" });
    await chat.server.start();
    mark("started");
    await reconnected("both connections to reconnect after SIGTERM");
    expect(aStatuses).toContain("connecting");
    const afterTerm = await b.send("after the graceful restart");
    await waitFor(() => aEvents.message!.some((m) => m.id === afterTerm.id), {
      what: "a live message after the graceful restart",
    });

    // SIGKILL right after an acknowledged send: acknowledged means stored.
    const last = await b.send("acknowledged just before the crash");
    mark("SIGKILL");
    await chat.server.stop("SIGKILL");
    await chat.server.start();
    mark("started again");
    await reconnected("both connections to reconnect after SIGKILL");

    const snapshot = await a.getRoom();
    expect(snapshot.messages.map((m) => m.id)).toEqual([before.id, afterTerm.id, last.id]);
    expect(snapshot.messages.map((m) => m.text)).toEqual([
      "before the restart",
      "after the graceful restart",
      "acknowledged just before the crash",
    ]);
    expect((await roomList(org, grace.token).listRooms()).map((r) => r.name)).toEqual(["durable"]);
    const afterKill = await a.send("after the crash");
    expect(afterKill.seq).toBe(last.seq + 1);
    // The token signed before the restarts is still valid: the secret is the deploy's, not the
    // process's.
    expect((await getJson("/api/me", ada.token)).body.user).toEqual(ada.user);
    // Whether a retry lands while the server is down depends on timing; each one that did is an
    // unreachable server, at most once per connection and outage.
    expect(errors.length).toBeLessThanOrEqual(4);
    for (const error of errors) {
      expect(error).toMatchObject({
        code: "network_error",
        message: expect.stringMatching(/^Could not connect to actor "chatRoom": .* Retrying\.$/),
      });
    }
  });
});
