// Managing rooms over real sockets: rename, leave and delete (who may, what everyone sees live,
// what SQL keeps), unique names in an organisation, and read positions for unread counts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { collect, errorOf, startTestApp, type TestApp, waitFor } from "../../test/helpers.js";
import { unreadCount } from "../frontend/lib/unread.js";
import type { RoomSummary } from "./index.js";

let app: TestApp;
const disposers: (() => Promise<void>)[] = [];
let orgSeq = 0;

beforeAll(async () => {
  app = await startTestApp();
});
afterEach(async () => {
  while (disposers.length) await disposers.pop()!();
});
afterAll(() => app?.close());

function track<T extends { dispose(): Promise<void> }>(conn: T): T {
  disposers.push(() => conn.dispose());
  return conn;
}

/** A fresh organisation: its first person is its admin, the others are members. */
async function org(...names: string[]) {
  const slug = `rooms-${++orgSeq}`;
  const people = [];
  for (const name of names) {
    const { token, user, role } = await app.signIn(name, slug);
    people.push({ token, user, role, params: { token } });
  }
  return { slug, people };
}

function list(slug: string, token: string) {
  return app.client.chatRoomList.getOrCreate([slug], { params: { token } });
}

function listConn(slug: string, token: string) {
  return track(list(slug, token).connect());
}

function roomConn(slug: string, roomId: string, token: string) {
  return track(app.client.chatRoom.get([slug, roomId], { params: { token } }).connect());
}

function readerOf(slug: string, userId: string, token: string) {
  return app.client.chatReader.getOrCreate([slug, userId], { params: { token } });
}

async function search(token: string, q: string): Promise<{ roomId: string; text: string }[]> {
  const res = await app.get(`/api/search?q=${encodeURIComponent(q)}`, token);
  expect(res.status).toBe(200);
  return res.body.results;
}

describe("unique room names", () => {
  it("refuses a name already taken in the organisation, ignoring case and spaces", async () => {
    const { slug, people } = await org("Ada", "Bo");
    const [ada, bo] = people;
    const general = await list(slug, ada!.token).createRoom("Launch  plans");
    expect(general.name).toBe("Launch plans");
    for (const name of ["launch plans", "  LAUNCH PLANS ", "Launch\tPlans", "launch   plans"]) {
      const err = await errorOf(list(slug, bo!.token).createRoom(name));
      expect(err.code, name).toBe("room_name_taken");
      expect(err.message).toBe('There is already a room called "Launch plans".');
      expect(err.metadata).toMatchObject({ roomId: general.id });
    }
    // Another organisation may use it.
    const other = await org("Cy");
    await expect(
      list(other.slug, other.people[0]!.token).createRoom("launch plans"),
    ).resolves.toMatchObject({
      name: "launch plans",
    });
    // Renaming into a taken name is refused too; a change of case of one's own name is not.
    const random = await list(slug, bo!.token).createRoom("random");
    const err = await errorOf(list(slug, bo!.token).renameRoom(random.id, "LAUNCH plans"));
    expect(err.code).toBe("room_name_taken");
    await expect(list(slug, bo!.token).renameRoom(random.id, "Random")).resolves.toMatchObject({
      name: "Random",
    });
    const rooms = await list(slug, ada!.token).listRooms();
    expect(rooms.map((r) => r.name).sort()).toEqual(["Launch plans", "Random"]);
  });

  it("two people creating the same name at once: one gets it, the other a clear refusal", async () => {
    const { slug, people } = await org("Ada", "Bo");
    const results = await Promise.allSettled([
      list(slug, people[0]!.token).createRoom("standup"),
      list(slug, people[1]!.token).createRoom("Standup"),
      list(slug, people[1]!.token).createRoom("STANDUP "),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results.filter((r) => r.status === "rejected")) {
      expect((r as PromiseRejectedResult).reason.code).toBe("room_name_taken");
    }
    expect(await list(slug, people[0]!.token).listRooms()).toHaveLength(1);
  });
});

describe("rename", () => {
  it("by the creator: every list and every open view hear it at once, and SQL follows", async () => {
    const { slug, people } = await org("Ada", "Bo");
    const [ada, bo] = people;
    const room = await list(slug, bo!.token).createRoom("design");
    const adaList = listConn(slug, ada!.token);
    const listEvents = collect(adaList, ["roomsChanged"]);
    const adaRoom = roomConn(slug, room.id, ada!.token);
    const roomEvents = collect(adaRoom, ["roomRenamed"]);
    await waitFor(() => adaList.status === "connected" && adaRoom.status === "connected");

    const renamed = await list(slug, bo!.token).renameRoom(room.id, "  product   design ");
    expect(renamed).toMatchObject({ id: room.id, name: "product design" });
    await waitFor(() => roomEvents.roomRenamed!.length === 1, { what: "roomRenamed" });
    expect(roomEvents.roomRenamed![0]).toEqual({ id: room.id, name: "product design" });
    await waitFor(
      () =>
        listEvents.roomsChanged!.at(-1)?.find((r: RoomSummary) => r.id === room.id)?.name ===
        "product design",
      { what: "roomsChanged with the new name" },
    );
    expect((await adaRoom.getRoom()).room.name).toBe("product design");
    await waitFor(
      async () =>
        (await app.sql<{ name: string }>("SELECT name FROM rooms WHERE id = $1", [room.id]))[0]
          ?.name === "product design",
      { what: "the new name in SQL" },
    );
  });

  it("by someone else: refused unless they are an admin; bad names are refused", async () => {
    const { slug, people } = await org("Ada", "Bo", "Cy");
    const [ada, bo, cy] = people;
    expect(ada!.role).toBe("admin");
    expect(cy!.role).toBe("member");
    const room = await list(slug, bo!.token).createRoom("ops");
    const refused = await errorOf(list(slug, cy!.token).renameRoom(room.id, "cy's now"));
    expect(refused.code).toBe("forbidden");
    expect(refused.message).toBe("Only the room's creator or an admin can rename it.");
    // The admin's role comes from SQL: Ada may.
    await expect(list(slug, ada!.token).renameRoom(room.id, "operations")).resolves.toMatchObject({
      name: "operations",
    });
    expect((await errorOf(list(slug, bo!.token).renameRoom(room.id, ""))).code).toBe(
      "invalid_input",
    );
    expect((await errorOf(list(slug, bo!.token).renameRoom(room.id, "x".repeat(61)))).code).toBe(
      "invalid_input",
    );
    expect((await errorOf(list(slug, bo!.token).renameRoom(room.id, "a\u0000b"))).code).toBe(
      "invalid_input",
    );
    expect((await errorOf(list(slug, bo!.token).renameRoom("no-such-room", "x"))).code).toBe(
      "room_not_found",
    );
    // Only the list (in-process) can tell a room its new name.
    const direct = app.client.chatRoom.get([slug, room.id], { params: bo!.params });
    expect((await errorOf(direct.applyRename("sneaky"))).code).toBe("forbidden");
    expect((await errorOf(direct.closeForDeletion({ userId: bo!.user.id, name: "Bo" }))).code).toBe(
      "forbidden",
    );
    expect((await direct.getRoom()).room.name).toBe("operations");
  });
});

describe("delete", () => {
  it("by the creator: gone from every list live, open views told, actor destroyed, out of search", async () => {
    const { slug, people } = await org("Ada", "Bo");
    const [ada, bo] = people;
    const room = await list(slug, bo!.token).createRoom("doomed");
    const keep = await list(slug, bo!.token).createRoom("kept");
    const boRoom = roomConn(slug, room.id, bo!.token);
    await boRoom.send("zanzibar secret plans");
    const keptRoom = roomConn(slug, keep.id, bo!.token);
    await keptRoom.send("zanzibar holiday");
    await waitFor(async () => (await search(ada!.token, "zanzibar")).length === 2, {
      what: "both messages searchable",
    });

    const adaList = listConn(slug, ada!.token);
    const listEvents = collect(adaList, ["roomsChanged", "roomDeleted"]);
    const adaRoom = roomConn(slug, room.id, ada!.token);
    const roomEvents = collect(adaRoom, ["roomDeleted"]);
    // Both open views of the room hear why their connection ends (closed as destroyed).
    const closedAs: unknown[] = [];
    for (const conn of [boRoom, adaRoom]) {
      conn.onError((e) => closedAs.push([e.code, (e.metadata as { code?: number } | null)?.code]));
    }
    await waitFor(() => adaList.status === "connected" && adaRoom.status === "connected");

    // A member who neither created it nor is an admin may not.
    const { token: cyToken } = await app.signIn("Cy", slug);
    const refused = await errorOf(list(slug, cyToken).deleteRoom(room.id));
    expect(refused.code).toBe("forbidden");
    expect(refused.message).toBe("Only the room's creator or an admin can delete it.");

    await expect(list(slug, bo!.token).deleteRoom(room.id)).resolves.toEqual({ id: room.id });
    await waitFor(() => roomEvents.roomDeleted!.length === 1, { what: "roomDeleted in the room" });
    expect(roomEvents.roomDeleted![0]).toMatchObject({ id: room.id, name: "doomed", by: "Bo" });
    await waitFor(() => listEvents.roomDeleted!.length === 1, { what: "roomDeleted in the list" });
    expect(listEvents.roomsChanged!.at(-1).map((r: RoomSummary) => r.id)).toEqual([keep.id]);
    expect((await list(slug, ada!.token).listRooms()).map((r) => r.id)).toEqual([keep.id]);

    // The actor is gone for good: open connections were closed, and nobody can bring it back.
    await waitFor(() => adaRoom.status === "disconnected", {
      what: "the room's connection closed",
    });
    await waitFor(() => closedAs.length === 2, { what: "both room connections told" });
    expect(closedAs).toEqual([
      ["connection_closed", 4002],
      ["connection_closed", 4002],
    ]);
    const again = app.client.chatRoom.getOrCreate([slug, room.id], { params: ada!.params });
    expect((await errorOf(again.getRoom())).code).toBe("room_not_found");
    const gone = app.client.chatRoom.get([slug, room.id], { params: ada!.params });
    expect((await errorOf(gone.getRoom())).code).toBe("actor_not_found");
    expect((await errorOf(list(slug, bo!.token).deleteRoom(room.id))).code).toBe("room_not_found");
    expect((await errorOf(list(slug, bo!.token).renameRoom(room.id, "back"))).code).toBe(
      "room_not_found",
    );

    // SQL keeps the rows, marked deleted; search stops returning its messages.
    await waitFor(
      async () =>
        (
          await app.sql<{ deleted_at: Date | null }>("SELECT deleted_at FROM rooms WHERE id = $1", [
            room.id,
          ])
        )[0]?.deleted_at != null,
      { what: "the room marked deleted in SQL" },
    );
    const results = await search(ada!.token, "zanzibar");
    expect(results.map((r) => r.text)).toEqual(["zanzibar holiday"]);
    // Its name is free again.
    await expect(list(slug, ada!.token).createRoom("Doomed")).resolves.toMatchObject({
      name: "Doomed",
    });
  });

  it("by an admin, of someone else's room", async () => {
    const { slug, people } = await org("Ada", "Bo");
    const [ada, bo] = people;
    const room = await list(slug, bo!.token).createRoom("bo's room");
    await expect(list(slug, ada!.token).deleteRoom(room.id)).resolves.toEqual({ id: room.id });
    expect(await list(slug, bo!.token).listRooms()).toEqual([]);
  });

  it("the deletion reaches SQL from the list's own outbox, across a restart too", async () => {
    const { slug, people } = await org("Ada");
    const room = await list(slug, people[0]!.token).createRoom("short-lived");
    await list(slug, people[0]!.token).deleteRoom(room.id);
    await app.restart();
    await waitFor(
      async () =>
        (
          await app.sql<{ deleted_at: Date | null }>("SELECT deleted_at FROM rooms WHERE id = $1", [
            room.id,
          ])
        )[0]?.deleted_at != null,
      { what: "the room marked deleted in SQL" },
    );
    expect(await list(slug, people[0]!.token).listRooms()).toEqual([]);
  });
});

describe("leave", () => {
  it("any member can leave: counted out, told on their devices, no unread count; opening again rejoins", async () => {
    const { slug, people } = await org("Ada", "Bo");
    const [ada, bo] = people;
    const room = await list(slug, ada!.token).createRoom("watercooler");
    const boRoom = roomConn(slug, room.id, bo!.token);
    await boRoom.send("hi");
    await waitFor(
      async () =>
        (await list(slug, ada!.token).listRooms()).find((r) => r.id === room.id)?.memberCount === 2,
      { what: "Bo counted" },
    );
    const boOtherTab = roomConn(slug, room.id, bo!.token);
    const tabEvents = collect(boOtherTab, ["memberLeft"]);
    await waitFor(() => boOtherTab.status === "connected");

    await expect(boRoom.leave()).resolves.toEqual({ left: true });
    await waitFor(() => tabEvents.memberLeft!.length === 1, { what: "memberLeft" });
    expect(tabEvents.memberLeft![0]).toEqual({ userId: bo!.user.id, name: "Bo" });
    await waitFor(
      async () =>
        (await list(slug, ada!.token).listRooms()).find((r) => r.id === room.id)?.memberCount === 1,
      { what: "Bo counted out" },
    );
    const reads = await readerOf(slug, bo!.user.id, bo!.token).getReads();
    expect(reads[room.id]?.left).toBe(true);
    expect(unreadCount(5, reads[room.id])).toBe(0);
    await waitFor(
      async () =>
        (
          await app.sql("SELECT 1 FROM members WHERE room_id = $1 AND user_id = $2", [
            room.id,
            bo!.user.id,
          ])
        ).length === 0,
      { what: "the member row gone from SQL" },
    );
    // Leaving twice is harmless.
    await expect(boRoom.leave()).resolves.toEqual({ left: false });

    await boOtherTab.dispose();
    await boRoom.dispose();
    const back = roomConn(slug, room.id, bo!.token);
    await waitFor(async () => (await back.getRoom()).members.length === 2, { what: "rejoined" });
    await waitFor(
      async () =>
        (await readerOf(slug, bo!.user.id, bo!.token).getReads())[room.id]?.left === false,
      { what: "unread counted again" },
    );
  });
});

describe("unread counts", () => {
  it("per person and room, own messages excluded, kept across devices and restarts", async () => {
    const { slug, people } = await org("Ada", "Bo");
    const [ada, bo] = people;
    const room = await list(slug, bo!.token).createRoom("news");
    const boRoom = roomConn(slug, room.id, bo!.token);
    for (const text of ["one", "two", "three"]) await boRoom.send(text);

    // Ada never opened the room: all three are unread.
    const lastSeqOf = async () =>
      (await list(slug, ada!.token).listRooms()).find((r) => r.id === room.id)?.lastSeq ?? 0;
    await waitFor(async () => (await lastSeqOf()) === 3, { what: "lastSeq in the list" });
    const adaPhone = track(readerOf(slug, ada!.user.id, ada!.token).connect());
    const phoneEvents = collect(adaPhone, ["readsChanged"]);
    await waitFor(() => adaPhone.status === "connected");
    let reads = await adaPhone.getReads();
    expect(unreadCount(3, reads[room.id])).toBe(3);

    // Bo's own messages are not unread for Bo.
    const boReads = await readerOf(slug, bo!.user.id, bo!.token).getReads();
    expect(unreadCount(3, boReads[room.id])).toBe(0);

    // Ada reads on her laptop: her phone hears it.
    const adaLaptop = readerOf(slug, ada!.user.id, ada!.token);
    await adaLaptop.markRead(room.id, 2);
    await waitFor(() => phoneEvents.readsChanged!.length === 1, { what: "readsChanged" });
    expect(phoneEvents.readsChanged![0]).toMatchObject({ roomId: room.id, read: { readSeq: 2 } });
    reads = await adaPhone.getReads();
    expect(unreadCount(3, reads[room.id])).toBe(1);
    // A read position never moves back (another device read further).
    await adaLaptop.markRead(room.id, 1);
    expect((await adaPhone.getReads())[room.id]?.readSeq).toBe(2);

    // Ada writes while one message is unread: hers does not count, Bo's does.
    const adaRoom = roomConn(slug, room.id, ada!.token);
    await adaRoom.send("mine"); // seq 4
    await boRoom.send("five"); // seq 5
    await waitFor(async () => (await lastSeqOf()) === 5);
    await waitFor(async () => (await adaPhone.getReads())[room.id]?.ownSeqs.includes(4) === true, {
      what: "own message recorded",
    });
    expect(unreadCount(5, (await adaPhone.getReads())[room.id])).toBe(2);
    // Reading everything clears it; when she then writes, nothing is unread.
    await adaLaptop.markRead(room.id, 5);
    await adaRoom.send("six");
    await waitFor(async () => (await adaPhone.getReads())[room.id]?.readSeq === 6, {
      what: "read position moved over her own message",
    });
    expect(unreadCount(6, (await adaPhone.getReads())[room.id])).toBe(0);

    // Durable: a restart keeps it.
    await adaPhone.dispose();
    await adaRoom.dispose();
    await boRoom.dispose();
    await app.restart();
    const after = await readerOf(slug, ada!.user.id, ada!.token).getReads();
    expect(after[room.id]).toMatchObject({ readSeq: 6, ownSeqs: [], left: false });
  });

  it("a reader belongs to its person: others, other organisations and forged calls are refused", async () => {
    const { slug, people } = await org("Ada", "Bo");
    const [ada, bo] = people;
    const eve = await org("Eve");
    expect((await errorOf(readerOf(slug, ada!.user.id, bo!.token).getReads())).code).toBe(
      "forbidden",
    );
    expect(
      (await errorOf(readerOf(slug, ada!.user.id, eve.people[0]!.token).markRead("r", 1))).code,
    ).toBe("forbidden");
    const shadow = app.client.chatReader.getOrCreate([slug, ada!.user.id, "x"], {
      params: ada!.params,
    });
    expect((await errorOf(shadow.getReads())).code).toBe("forbidden");
    const mine = readerOf(slug, ada!.user.id, ada!.token);
    expect((await errorOf(mine.ownPosted("r", 3))).code).toBe("forbidden");
    expect((await errorOf(mine.setLeft("r", true))).code).toBe("forbidden");
    expect((await errorOf(mine.markRead("r", -1))).code).toBe("invalid_input");
    expect((await errorOf(mine.markRead("r", 1.5))).code).toBe("invalid_input");
    expect(await mine.getReads()).toEqual({});
  });
});
