// The outbox under a database outage: the app's Postgres connection goes through a TCP proxy
// that the test cuts mid-stream. Replies and live events must keep coming, and once the
// database is back, every acknowledged message (and edit) must be in SQL — also when the server
// restarted while the database was away.
import pg from "pg";
import { captureLogger, startTcpProxy, type TcpProxy } from "troupe/test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collect, startTestApp, type TestApp, waitFor } from "../../test/helpers.js";

let app: TestApp | undefined;
let proxy: TcpProxy | undefined;
/** The server's log: the outage is reported there, and nothing else may be. */
const logger = captureLogger();
beforeEach(() => logger.clear());
afterEach(async () => {
  await proxy?.restore();
  await app?.close();
  await proxy?.close();
  app = proxy = undefined;
});

async function startBehindProxy(): Promise<{ app: TestApp; proxy: TcpProxy }> {
  let p: TcpProxy | undefined;
  const a = await startTestApp({
    logger,
    tuning: { retentionIntervalMs: 300 },
    appDatabaseUrl: async (scratchUrl) => {
      const url = new URL(scratchUrl);
      p = await startTcpProxy(url.hostname, Number(url.port));
      url.port = String(p.port);
      return url.toString();
    },
  });
  return { app: a, proxy: p! };
}

/** The warnings a database outage may cause; which ones appear depends on timing. */
const OUTAGE_WARNINGS = {
  lost: /^\[chat\/db\] connection lost: /,
  failed: /^\[outbox\] SQL write failed \(\d+x, \d+ pending(, [^)]*)?\), retrying in \d+ ms: /,
  resumed: /^\[outbox\] SQL writes resumed after \d+ failed rounds$/,
};

/** The messages logged so far; fails on any that is not an outage warning. */
function outageWarnings(): string[] {
  for (const entry of logger.entries) {
    expect(entry.level, entry.message).toBe("warn");
    expect(
      Object.values(OUTAGE_WARNINGS).some((re) => re.test(entry.message)),
      entry.message,
    ).toBe(true);
  }
  return logger.entries.map((e) => e.message);
}

async function rowsOf(
  databaseUrl: string,
  roomId: string,
): Promise<Map<string, { text: string; version: number }>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; text: string; version: number }>(
      "SELECT id, text, version FROM messages WHERE room_id = $1",
      [roomId],
    );
    return new Map(rows.map((r) => [r.id, { text: r.text, version: r.version }]));
  } finally {
    await client.end();
  }
}

async function health(url: string): Promise<{ ok: boolean; database: string }> {
  return (await (await fetch(`${url}/api/health`)).json()) as { ok: boolean; database: string };
}

describe("outbox", () => {
  it("a room deleted while the database is away is marked deleted in SQL once it is back", async () => {
    ({ app, proxy } = await startBehindProxy());
    const { token } = await app.signIn("Ada", "acme");
    const list = app.client.chatRoomList.getOrCreate(["acme"], { params: { token } });
    const room = await list.createRoom("short-lived");
    const bo = await app.signIn("Bo", "acme");
    const bosRoom = await app.client.chatRoomList
      .getOrCreate(["acme"], { params: { token: bo.token } })
      .createRoom("bo's");
    const deletedAt = async () =>
      (
        await app!.sql<{ deleted_at: Date | null }>("SELECT deleted_at FROM rooms WHERE id = $1", [
          room.id,
        ])
      )[0]?.deleted_at;
    await waitFor(async () => (await deletedAt()) === null, { what: "the room's row in SQL" });

    await proxy.cut();
    // The creator needs no database to delete (an admin's role would be read from SQL).
    await expect(list.deleteRoom(room.id)).resolves.toEqual({ id: room.id });
    expect((await list.listRooms()).map((r) => r.id)).toEqual([bosRoom.id]);
    expect(await deletedAt()).toBeNull();
    // Ada deleting Bo's room needs her role from SQL: a clear refusal, nothing changed.
    const refused = await list.deleteRoom(bosRoom.id).then(
      () => null,
      (e: { code?: string; message?: string }) => e,
    );
    expect(refused?.code).toBe("unavailable");
    expect(refused?.message).toMatch(/database is unreachable/);
    expect((await list.listRooms()).map((r) => r.id)).toEqual([bosRoom.id]);

    await proxy.restore();
    await waitFor(async () => (await deletedAt()) instanceof Date, {
      timeout: 15_000,
      what: "the deletion in SQL",
    });
    outageWarnings();
  });

  it("no acknowledged message is lost when the database blips mid-stream", async () => {
    ({ app, proxy } = await startBehindProxy());
    const { token } = await app.signIn("Ada", "acme");
    const bo = await app.signIn("Bo", "acme");
    const room = await app.client.chatRoomList
      .getOrCreate(["acme"], { params: { token } })
      .createRoom("outage");
    const a = app.client.chatRoom.get(["acme", room.id], { params: { token } }).connect();
    const b = app.client.chatRoom.get(["acme", room.id], { params: { token: bo.token } }).connect();
    const received = collect(b, ["message"]);
    try {
      await waitFor(() => a.status === "connected" && b.status === "connected");
      const acked = new Map<string, string>();
      const sendBurst = async (from: number, to: number) => {
        for (let i = from; i <= to; i++) {
          const m = await a.send(`message ${i}`);
          acked.set(m.id, m.text);
        }
      };

      await sendBurst(1, 20);
      await waitFor(async () => (await rowsOf(app!.databaseUrl, room.id)).size === 20, {
        what: "the first messages in SQL",
      });

      await proxy.cut();
      const t0 = Date.now();
      await sendBurst(21, 60);
      const first = [...acked.keys()][20]!;
      const edited = await a.edit(first, "edited while the database was away");
      acked.set(first, edited.text);
      // Replies did not wait for the database.
      expect(Date.now() - t0).toBeLessThan(5000);
      await waitFor(() => received.message!.length === 60, { what: "live delivery" });
      expect((await health(app.url)).database).toBe("unreachable");
      // The outage was real: the new messages are not in SQL yet.
      expect((await rowsOf(app.databaseUrl, room.id)).size).toBeLessThan(60);

      await proxy.restore();
      const rows = await waitFor(
        async () => {
          const r = await rowsOf(app!.databaseUrl, room.id);
          return r.size === 60 && r.get(first)?.version === 2 ? r : undefined;
        },
        { timeout: 15_000, what: "every acknowledged message in SQL" },
      );
      for (const [id, text] of acked) expect(rows.get(id)?.text, id).toBe(text);
      expect((await health(app.url)).database).toBe("up");
      // The outbox said it could not write, then that it could again.
      await waitFor(() => outageWarnings().some((m) => OUTAGE_WARNINGS.resumed.test(m)), {
        what: "the outbox to log that writes resumed",
      });
      expect(outageWarnings().some((m) => OUTAGE_WARNINGS.failed.test(m))).toBe(true);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it("the outbox survives a server restart during the outage", async () => {
    ({ app, proxy } = await startBehindProxy());
    const { token } = await app.signIn("Ada", "acme");
    const room = await app.client.chatRoomList
      .getOrCreate(["acme"], { params: { token } })
      .createRoom("restart");
    const handle = () => app!.client.chatRoom.get(["acme", room.id], { params: { token } });
    await proxy.cut();
    const acked: string[] = [];
    for (let i = 1; i <= 10; i++) acked.push((await handle().send(`queued ${i}`)).id);

    // The server stops with the outbox still full, and comes back once the database does
    // (migrations at start need it). Nobody opens the room: its retention alarm wakes it.
    await app.server.close();
    expect((await rowsOf(app.databaseUrl, room.id)).size).toBe(0);
    await proxy.restore();
    await app.restart();
    const rows = await waitFor(
      async () => {
        const r = await rowsOf(app!.databaseUrl, room.id);
        return r.size === 10 ? r : undefined;
      },
      { timeout: 15_000, what: "the queued messages in SQL after the restart" },
    );
    expect([...rows.keys()].sort()).toEqual([...acked].sort());
    outageWarnings();
  });
});
