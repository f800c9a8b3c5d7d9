// The chat against hostile input, over real sockets with a real Postgres: what Postgres cannot
// store is refused where people type it, and an outbox entry that Postgres keeps refusing is set
// aside (kept, logged) while the room's other writes go on reaching SQL.
import pg from "pg";
import { ActorError } from "troupe/client";
import { captureLogger } from "troupe/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp, waitFor } from "./helpers.js";

const logger = captureLogger();
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ logger });
});
afterAll(() => app?.close());

async function sql<T>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: app.databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

async function textsInSql(roomId: string): Promise<string[]> {
  const rows = await sql<{ text: string }>(
    "SELECT text FROM messages WHERE room_id = $1 ORDER BY seq",
    [roomId],
  );
  return rows.map((r) => r.text);
}

async function errorOf(p: Promise<unknown>): Promise<ActorError> {
  const err = await p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ActorError);
  return err as ActorError;
}

async function newRoom(org: string, name = "general") {
  const ada = await app.signIn("Ada", org);
  const params = { token: ada.token };
  const room = await app.client.chatRoomList.getOrCreate([org], { params }).createRoom(name);
  return { ada, params, room, handle: app.client.chatRoom.get([org, room.id], { params }) };
}

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
    // The sign-in may refuse such a name itself; if it lets one through, SQL still gets the row.
    const eve = await app.signIn("Eve\u0000", "nul-names").catch(() => undefined);
    if (!eve) return;
    const params = { token: eve.token };
    const room = await app.client.chatRoomList
      .getOrCreate(["nul-names"], { params })
      .createRoom("x");
    await app.client.chatRoom.get(["nul-names", room.id], { params }).send("hi");
    const rows = await waitFor(
      async () => {
        const r = await sql<{ author_name: string }>(
          "SELECT author_name FROM messages WHERE room_id = $1",
          [room.id],
        );
        return r.length === 1 ? r : undefined;
      },
      { what: "the message in SQL" },
    );
    expect(rows[0]!.author_name).toBe("Eve");
    const members = await sql<{ display_name: string }>(
      "SELECT display_name FROM members WHERE room_id = $1",
      [room.id],
    );
    expect(members.map((m) => m.display_name)).toEqual(["Eve"]);
  });
});

describe("the outbox", () => {
  it("sets aside an entry Postgres keeps refusing; the room's other writes go on", async () => {
    // Postgres refuses one particular message, as it would a row that breaks a constraint.
    await sql(`
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
