// The chat against hostile input, over real sockets with a real Postgres (issue 9):
// - nobody but the organisation's room list creates a room, and only a member of the
//   organisation creates its room list, under the key [org] exactly, on every path (HTTP
//   resolve, HTTP action, WebSocket init), whatever `input` says; a refused creation leaves no
//   actor and nothing in SQL; a room takes its organisation and id from its key, never its input;
// - an organisation's rooms are bounded per organisation, not per person or per list key;
// - a room's state is bounded per room, not per user (scheduled messages, members);
// - what Postgres cannot store is refused where people type it, and an outbox entry that
//   Postgres keeps refusing is set aside (kept, logged) while the room's other writes go on.
import { captureLogger } from "troupe/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorOf, startTestApp, type TestApp, waitFor } from "./helpers.js";

const logger = captureLogger();
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({
    logger,
    tuning: { maxMembersPerRoom: 3, maxScheduledPerRoom: 4, maxRoomsPerOrg: 3 },
  });
});
afterAll(() => app?.close());

async function textsInSql(roomId: string): Promise<string[]> {
  const rows = await app.sql<{ text: string }>(
    "SELECT text FROM messages WHERE room_id = $1 ORDER BY seq",
    [roomId],
  );
  return rows.map((r) => r.text);
}

async function newRoom(org: string, name = "general") {
  const ada = await app.signIn("Ada", org);
  const params = { token: ada.token };
  const room = await app.client.chatRoomList.getOrCreate([org], { params }).createRoom(name);
  return { ada, params, room, handle: app.client.chatRoom.get([org, room.id], { params }) };
}

/** POST /actors/resolve as any client can send it. */
async function resolve(body: unknown): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${app.url}/api/troupe/actors/resolve`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: json.error?.code };
}

/** The error a connection is closed with. */
function connectError(conn: {
  onError(cb: (e: { code: string }) => void): unknown;
  dispose(): Promise<void>;
}): Promise<string> {
  return new Promise<{ code: string }>((resolve) => conn.onError(resolve)).then(async (e) => {
    await conn.dispose();
    return e.code;
  });
}

async function roomRows(id: string) {
  return app.sql<{ org_id: string; name: string }>("SELECT org_id, name FROM rooms WHERE id = $1", [
    id,
  ]);
}

let checkers = 0;

/** No actor exists under this key: a signed-in member of the org gets actor_not_found. */
async function expectNoRoom(org: string, roomId: string): Promise<void> {
  const { token } = await app.signIn(`Checker ${++checkers}`, org);
  const err = await errorOf(
    app.client.chatRoom.get([org, roomId], { params: { token } }).getRoom(),
  );
  expect(err.code).toBe("actor_not_found");
  expect(await roomRows(roomId)).toEqual([]);
}

async function expectNoList(key: string[], org = key[0]!): Promise<void> {
  const { token } = await app.signIn(`Checker ${++checkers}`, org);
  const err = await errorOf(app.client.chatRoomList.get(key, { params: { token } }).listRooms());
  expect(err.code).toBe("actor_not_found");
}

describe("who creates actors", () => {
  const spoofed = (org: string, roomId: string) => ({
    orgId: org,
    roomId,
    name: "spoofed",
    createdBy: "mallory",
    createdByName: "Mallory",
  });

  it("an anonymous caller creates no room and no room list, on any path", async () => {
    const input = spoofed("anon-org", "r1");
    // HTTP resolve.
    expect(
      await resolve({ name: "chatRoom", key: ["anon-org", "r1"], mode: "getOrCreate", input }),
    ).toEqual({ status: 400, code: "room_not_found" });
    expect(
      await resolve({ name: "chatRoom", key: ["anon-org", "r1"], mode: "create", input }),
    ).toEqual({ status: 400, code: "room_not_found" });
    expect(await resolve({ name: "chatRoomList", key: ["anon-org"], mode: "getOrCreate" })).toEqual(
      { status: 401, code: "auth_required" },
    );
    // An HTTP action with getOrCreate and input.
    const viaAction = app.client.chatRoom.getOrCreate(["anon-org", "r1"], {
      createWithInput: input,
    });
    expect((await errorOf(viaAction.getRoom())).code).toBe("room_not_found");
    const listViaAction = app.client.chatRoomList.getOrCreate(["anon-org"]);
    expect((await errorOf(listViaAction.listRooms())).code).toBe("auth_required");
    // A connection's init with getOrCreate and input.
    expect(await connectError(viaAction.connect())).toBe("room_not_found");
    expect(await connectError(listViaAction.connect())).toBe("auth_required");

    await expectNoRoom("anon-org", "r1");
    await expectNoList(["anon-org"]);
  });

  it("a signed-in member cannot create a room either: only the room list does", async () => {
    const ada = await app.signIn("Ada", "own-org");
    const params = { token: ada.token };
    const input = spoofed("own-org", "mine");
    const handle = app.client.chatRoom.getOrCreate(["own-org", "mine"], {
      params,
      createWithInput: input,
    });
    expect(
      (await errorOf(app.client.chatRoom.create(["own-org", "mine"], { params, input }))).code,
    ).toBe("room_not_found");
    expect((await errorOf(handle.send("hi"))).code).toBe("room_not_found");
    expect(await connectError(handle.connect())).toBe("room_not_found");
    await expectNoRoom("own-org", "mine");
  });

  it("another organisation's key with spoofed input reaches nothing of the victim's", async () => {
    const { room: victimRoom, params: adaParams } = await newRoom("victim-org", "plans");
    await app.client.chatRoom.get(["victim-org", victimRoom.id], { params: adaParams }).send("ok");
    const eve = await app.signIn("Eve", "evil-org");
    const params = { token: eve.token };
    // Her own org's key, with input that names the victim's room.
    const input = { ...spoofed("victim-org", victimRoom.id), createdBy: eve.user.id };
    const created = app.client.chatRoom.create(["evil-org", "x"], { params, input });
    expect((await errorOf(created)).code).toBe("room_not_found");
    const viaGetOrCreate = app.client.chatRoom.getOrCreate(["evil-org", "x"], {
      params,
      createWithInput: input,
    });
    expect((await errorOf(viaGetOrCreate.send("pwned"))).code).toBe("room_not_found");
    // The victim's key, and the victim's room list, with her token.
    const direct = app.client.chatRoom.getOrCreate(["victim-org", victimRoom.id], {
      params,
      createWithInput: input,
    });
    expect((await errorOf(direct.send("pwned"))).code).toBe("forbidden");
    const list = app.client.chatRoomList.getOrCreate(["victim-org"], { params });
    expect((await errorOf(list.createRoom("pwned"))).code).toBe("forbidden");
    // A victim without a room list yet: Eve cannot create it for them.
    const fresh = app.client.chatRoomList.getOrCreate(["fresh-victim"], { params });
    expect((await errorOf(fresh.listRooms())).code).toBe("forbidden");
    expect(await connectError(fresh.connect())).toBe("forbidden");
    await expectNoList(["fresh-victim"]);

    await expectNoRoom("evil-org", "x");
    // The victim's room in SQL: its name, and no member or message from Eve.
    expect(await roomRows(victimRoom.id)).toEqual([{ org_id: "victim-org", name: "plans" }]);
    const members = await app.sql<{ user_id: string }>(
      "SELECT user_id FROM members WHERE room_id = $1",
      [victimRoom.id],
    );
    expect(members.map((m) => m.user_id)).not.toContain(eve.user.id);
    const texts = await textsInSql(victimRoom.id);
    expect(texts).not.toContain("pwned");
  });

  it("a room takes its organisation and id from its key, and refuses input that disagrees", async () => {
    // Server code (in-process, trusted: it skips onBeforeCreate) that passes the wrong input.
    const { engine } = await app.server.registry.ensureRuntime();
    const inProcess = engine.client() as unknown as typeof app.client;
    const bad = inProcess.chatRoom.create(["key-org", "k1"], { input: spoofed("other-org", "k1") });
    expect((await errorOf(bad)).code).toBe("forbidden");
    const bad2 = inProcess.chatRoom.create(["key-org", "k2"], { input: spoofed("key-org", "zz") });
    expect((await errorOf(bad2)).code).toBe("forbidden");
    // Input without them: the key decides.
    const { orgId: _o, roomId: _r, ...plain } = spoofed("", "");
    await inProcess.chatRoom.create(["key-org", "k3"], { input: plain });
    await waitFor(async () => (await roomRows("k3")).length === 1, { what: "the room in SQL" });
    expect(await roomRows("k3")).toEqual([{ org_id: "key-org", name: "spoofed" }]);
    await expectNoRoom("key-org", "k1");
    await expectNoRoom("key-org", "k2");
  });

  it("a room list's key is exactly [the user's org]: no shadow lists with their own budget", async () => {
    const ada = await app.signIn("Ada", "shadow-org");
    const params = { token: ada.token };
    for (const key of [
      ["shadow-org", "shadow-1"],
      ["shadow-org", ""],
      [],
      ["other", "shadow-org"],
    ]) {
      const list = app.client.chatRoomList.getOrCreate(key, { params });
      expect((await errorOf(list.createRoom("extra"))).code, JSON.stringify(key)).toBe("forbidden");
      expect(await connectError(list.connect()), JSON.stringify(key)).toBe("forbidden");
      expect(
        await resolve({ name: "chatRoomList", key, mode: "getOrCreate", params }),
        JSON.stringify(key),
      ).toMatchObject({ code: "forbidden" });
    }
    await expectNoList(["shadow-org", "shadow-1"], "shadow-org");
    // A shadow list made before this check (here: by server code) does not serve users either.
    const { engine } = await app.server.registry.ensureRuntime();
    await (engine.client() as unknown as typeof app.client).chatRoomList
      .getOrCreate(["shadow-org", "old"])
      .resolve();
    const old = app.client.chatRoomList.get(["shadow-org", "old"], { params });
    expect((await errorOf(old.createRoom("extra"))).code).toBe("forbidden");
    // The real list works.
    const real = app.client.chatRoomList.getOrCreate(["shadow-org"], { params });
    expect((await real.createRoom("general")).name).toBe("general");
  });
});

describe("an organisation's rooms are bounded per organisation", () => {
  it("the organisation's cap refuses a room to every member, and no other organisation feels it", async () => {
    const ada = await app.signIn("Ada", "cap-org");
    const adaList = app.client.chatRoomList.getOrCreate(["cap-org"], {
      params: { token: ada.token },
    });
    const rooms = [];
    for (const name of ["one", "two", "three"]) rooms.push(await adaList.createRoom(name));
    const refusal = await errorOf(adaList.createRoom("four"));
    expect(refusal.code).toBe("too_many_rooms");
    expect(refusal.message).toBe("An organisation has at most 3 rooms.");
    // The budget is the organisation's: another member gets the same answer.
    const bo = await app.signIn("Bo", "cap-org");
    const boList = app.client.chatRoomList.get(["cap-org"], { params: { token: bo.token } });
    expect((await errorOf(boList.createRoom("bo's"))).code).toBe("too_many_rooms");
    expect((await adaList.listRooms()).map((r) => r.name).sort()).toEqual(["one", "three", "two"]);

    // Another organisation at the same moment has its whole budget.
    const cy = await app.signIn("Cy", "cap-other-org");
    const cyList = app.client.chatRoomList.getOrCreate(["cap-other-org"], {
      params: { token: cy.token },
    });
    for (const name of ["one", "two", "three"]) await cyList.createRoom(name);
    expect((await errorOf(cyList.createRoom("four"))).code).toBe("too_many_rooms");

    // The cap counts the rooms there are: a deleted one makes room for a new one.
    await adaList.deleteRoom(rooms[0]!.id);
    expect((await boList.createRoom("bo's")).name).toBe("bo's");
    expect((await errorOf(adaList.createRoom("four"))).code).toBe("too_many_rooms");
  });
});

describe("room state is bounded per room", () => {
  it("scheduled messages: a per-room cap, whoever schedules them", async () => {
    const { room } = await newRoom("sched-org");
    const at = Date.now() + 60 * 60_000;
    let scheduled = 0;
    for (const name of ["U1", "U2", "U3"]) {
      const { token } = await app.signIn(name, "sched-org");
      const handle = app.client.chatRoom.get(["sched-org", room.id], { params: { token } });
      for (let i = 0; i < 2; i++) {
        if (scheduled < 4) {
          await handle.sendLater(`${name} ${i}`, at);
          scheduled++;
        } else {
          const err = await errorOf(handle.sendLater(`${name} ${i}`, at));
          expect(err.code).toBe("too_many_scheduled");
          expect(err.message).toContain("This room already has 4 scheduled messages");
        }
      }
    }
  });

  it("members: a full room refuses a new member, and keeps serving its members", async () => {
    const { room, handle } = await newRoom("full-org"); // Ada is the first member
    for (const name of ["Bo", "Cy"]) {
      const { token } = await app.signIn(name, "full-org");
      await app.client.chatRoom.get(["full-org", room.id], { params: { token } }).send("hi");
    }
    const dee = await app.signIn("Dee", "full-org");
    const deeHandle = app.client.chatRoom.get(["full-org", room.id], {
      params: { token: dee.token },
    });
    expect((await errorOf(deeHandle.send("let me in"))).code).toBe("room_full");
    expect(await connectError(deeHandle.connect())).toBe("room_full");
    expect((await handle.getRoom()).members).toHaveLength(3);
    await handle.send("still here");
  });
});

describe("text Postgres cannot store", () => {
  it("a NUL character is refused with invalid_input, and the room's messages still reach SQL", async () => {
    const { ada, params, room, handle } = await newRoom("nul-org");
    const sent = await handle.send("before");
    for (const attempt of [
      () => handle.send("hello\u0000world"),
      () => handle.edit(sent.id, "edited\u0000"),
      () => handle.sendLater("later\u0000", Date.now() + 60_000),
      () => app.client.chatRoomList.getOrCreate(["nul-org"], { params }).createRoom("room\u0000"),
    ]) {
      const err = await errorOf(attempt());
      expect(err.code).toBe("invalid_input");
      expect(err.message).toContain("NUL character");
    }
    const search = await fetch(`${app.url}/api/search?q=${encodeURIComponent("a\u0000b")}`, {
      headers: { authorization: `Bearer ${ada.token}` },
    });
    expect(search.status).toBe(400);
    expect(((await search.json()) as { error: { code: string } }).error.code).toBe("invalid_input");

    await handle.send("after");
    await waitFor(async () => (await textsInSql(room.id)).join() === "before,after", {
      what: "the room's messages in SQL",
    });
  });

  it("a display name with a NUL character reaches SQL without it", async () => {
    // Sign-up refuses such a name (accounts.test.ts); a token can still carry one (signed before
    // that rule, or by other code with the secret), and the outbox must not choke on it.
    const ada = await app.signIn("Ada", "nul-names");
    const token = await app.server.auth.sign({ ...ada.user, name: "Eve\u0000" });
    const params = { token };
    const room = await app.client.chatRoomList
      .getOrCreate(["nul-names"], { params })
      .createRoom("x");
    await app.client.chatRoom.get(["nul-names", room.id], { params }).send("hi");
    const rows = await waitFor(
      async () => {
        const r = await app.sql<{ author_name: string }>(
          "SELECT author_name FROM messages WHERE room_id = $1",
          [room.id],
        );
        return r.length === 1 ? r : undefined;
      },
      { what: "the message in SQL" },
    );
    expect(rows[0]!.author_name).toBe("Eve");
    const members = await app.sql<{ display_name: string }>(
      "SELECT display_name FROM members WHERE room_id = $1",
      [room.id],
    );
    expect(members.map((m) => m.display_name)).toEqual(["Eve"]);
  });
});

describe("the outbox", () => {
  it("sets aside an entry Postgres keeps refusing; the room's other writes go on", async () => {
    // Postgres refuses one particular message, as it would a row that breaks a constraint.
    await app.sql(`
      CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.text = 'poison' THEN RAISE EXCEPTION 'this row is refused'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON messages
        FOR EACH ROW EXECUTE FUNCTION refuse_poison();`);
    const { room, handle } = await newRoom("poison-org");
    const conn = handle.connect();
    try {
      for (const text of ["one", "poison", "two", "three"]) await conn.send(text);
      await waitFor(async () => (await textsInSql(room.id)).join() === "one,two,three", {
        timeout: 20_000,
        what: "every other message in SQL",
      });
      const setAside = await waitFor(() => logger.find("error", "set aside"), {
        what: "the entry set aside in the log",
      });
      expect(setAside.message).toContain("this row is refused");
      expect(setAside.fields.entry).toMatchObject({ kind: "message" });
      // Later messages flow at once: the refused one is out of the way.
      await conn.send("four");
      await waitFor(async () => (await textsInSql(room.id)).join() === "one,two,three,four", {
        what: "a later message in SQL",
      });
      // The room still shows the refused message (it is in its state), and nothing else failed.
      expect((await conn.getRoom()).messages.map((m) => m.text)).toContain("poison");
      expect(logger.entries.filter((e) => e.level === "error")).toHaveLength(1);
    } finally {
      await conn.dispose();
    }
  });
});
