/**
 * Chat benchmark: one room, 200 connected members, a few of them sending as fast as replies
 * come back. Prints messages/s (acknowledged sends), delivered events/s (message events
 * received across all members) and the SQL sync lag (from a send's reply to its row being
 * visible in Postgres; p50/p99), measured by polling the messages table.
 *
 *   pnpm --filter @troupe/template-chat bench            # embedded Postgres unless DATABASE_URL
 *   MEMBERS=200 SENDERS=10 SECONDS=10 pnpm --filter @troupe/template-chat bench
 *
 * A script that prints figures, not a test: numbers depend on the machine.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createClient } from "troupe/client";
import { createScratchDatabase, resolveDatabaseUrl } from "troupe/db";
import type { ChatRegistry } from "../src/actors/index.js";
import { startChatServer } from "../src/server.js";

const MEMBERS = Number(process.env.MEMBERS ?? 200);
const SENDERS = Number(process.env.SENDERS ?? 10);
const SECONDS = Number(process.env.SECONDS ?? 10);

const base = await resolveDatabaseUrl({ name: "chat-bench" });
const scratch = await createScratchDatabase(base);
const dataDir = await mkdtemp(join(tmpdir(), "chat-bench-"));
const server = await startChatServer({
  port: 0,
  hostname: "127.0.0.1",
  databaseUrl: scratch.url,
  authSecret: "bench-secret-bench-secret-bench-secret",
  storage: { driver: "file", path: dataDir },
  // The bench measures messages, not password hashing: 200 accounts at production cost would
  // take most of a minute to create.
  scrypt: { N: 2 ** 10, r: 8, p: 1 },
});
const client = createClient<ChatRegistry>(server.url);

async function post(
  path: string,
  body: unknown,
): Promise<{ token: string; invite?: { code: string } }> {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { token: string; invite?: { code: string } };
}

// The first member creates the organisation; the others join through its invite link.
const first = await post("/api/auth/organisations", {
  orgName: "bench",
  displayName: "member 0",
  login: "member-0",
  password: "bench-password",
});
const others = await Promise.all(
  Array.from({ length: MEMBERS - 1 }, (_, i) =>
    post("/api/auth/join", {
      code: first.invite!.code,
      displayName: `member ${i + 1}`,
      login: `member-${i + 1}`,
      password: "bench-password",
    }),
  ),
);
const tokens = [first.token, ...others.map((o) => o.token)];
const room = await client.chatRoomList
  .getOrCreate(["bench"], { params: { token: tokens[0]! } })
  .createRoom("bench");

let delivered = 0;
const conns = tokens.map((token) => {
  const conn = client.chatRoom.get(["bench", room.id], { params: { token } }).connect();
  conn.on("message", () => delivered++);
  return conn;
});
const deadline = Date.now() + 30_000;
while (conns.some((c) => c.status !== "connected")) {
  if (Date.now() > deadline) throw new Error("members did not connect within 30 s");
  await new Promise((r) => setTimeout(r, 50));
}
console.log(`${MEMBERS} members connected to one room; ${SENDERS} senders for ${SECONDS} s`);

const ackedAt = new Map<number, number>(); // seq -> when its reply arrived
const visibleAt = new Map<number, number>(); // seq -> when its row was first seen in SQL
let sent = 0;
let polling = true;
const poller = (async () => {
  const db = new pg.Client({ connectionString: scratch.url });
  await db.connect();
  let lastSeq = 0;
  let giveUpAt = Number.POSITIVE_INFINITY;
  while (polling || (visibleAt.size < sent && Date.now() < giveUpAt)) {
    if (!polling && giveUpAt === Number.POSITIVE_INFINITY) giveUpAt = Date.now() + 30_000;
    const { rows } = await db.query<{ seq: string }>(
      "SELECT seq FROM messages WHERE room_id = $1 AND seq > $2 ORDER BY seq",
      [room.id, lastSeq],
    );
    const now = performance.now();
    for (const r of rows) {
      const seq = Number(r.seq);
      lastSeq = Math.max(lastSeq, seq);
      visibleAt.set(seq, now);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await db.end();
})();

const started = performance.now();
const endAt = Date.now() + SECONDS * 1000;
await Promise.all(
  conns.slice(0, SENDERS).map(async (conn, i) => {
    let n = 0;
    while (Date.now() < endAt) {
      const m = await conn.send(`sender ${i} message ${n++}`);
      ackedAt.set(m.seq, performance.now());
      sent++;
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
const expectedEvents = sent * MEMBERS;
const settle = Date.now() + 10_000;
while (delivered < expectedEvents && Date.now() < settle)
  await new Promise((r) => setTimeout(r, 20));
const deliveredElapsed = (performance.now() - started) / 1000;
polling = false;
await poller;

// A row can become visible before the client has processed the reply (the clients share this
// process with the server): that counts as zero lag.
const lags = [...ackedAt].flatMap(([seq, at]) => {
  const seen = visibleAt.get(seq);
  return seen === undefined ? [] : [Math.max(0, seen - at)];
});
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : Number.NaN;
};
console.table({
  "messages/s (acked)": Math.round(sent / elapsed),
  "delivered events/s": Math.round(delivered / deliveredElapsed),
  "events delivered / expected": `${delivered} / ${expectedEvents}`,
  "SQL sync lag p50 (ms)": Number(pct(lags, 50).toFixed(1)),
  "SQL sync lag p99 (ms)": Number(pct(lags, 99).toFixed(1)),
  "rows measured": `${lags.length} / ${sent}`,
});

await Promise.all(conns.map((c) => c.dispose()));
await server.close();
await scratch.drop();
await rm(dataDir, { recursive: true, force: true });
process.exit(0);
