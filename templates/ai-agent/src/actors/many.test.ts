// Many answers at once on a server whose turn budget is tiny (every part past the first of a
// turn waits for a later one): each answer still arrives whole and in order on its connection,
// a Stop among them ends its answer with no token after the reply, and the outboxes of all
// the conversations reach SQL through their shared writer.
import { captureLogger } from "troupe/test";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestApp, type TestApp, waitFor } from "../../test/helpers.js";
import type { ChatMessage, TokenEvent } from "./agent.js";

const CONVERSATIONS = 12;
const COUNT = 120;
let app: TestApp;
const logger = captureLogger();

beforeAll(async () => {
  // As fast as the stand-in can (no pace): every stream always has a part ready.
  app = await startTestApp({ tokensPerSecond: 0, logger, tuning: { turnBudgetMs: 0.01 } });
});
afterAll(() => app?.close());

it("streams many answers whole and in order through the turn budget, and Stop still ends one", async () => {
  const expected = Array.from({ length: COUNT }, (_, i) => i + 1).join(" ");
  const convs = await Promise.all(
    Array.from({ length: CONVERSATIONS }, async (_, i) => {
      const u = await app.user(`User${i}`);
      const lists = app.client.agentList.getOrCreate([u.userId], { params: { token: u.token } });
      const { id } = await lists.createConversation();
      const conn = app.client.agent.get([u.userId, id], { params: { token: u.token } }).connect();
      const tokens: TokenEvent[] = [];
      const messages = new Map<string, ChatMessage>();
      conn.on("token", (t) => tokens.push(t));
      conn.on("messageUpdated", (m) => messages.set(m.id, m));
      await waitFor(() => conn.status === "connected", { what: "a connection" });
      return { id, conn, tokens, messages };
    }),
  );
  try {
    // The last one asks for a long answer and stops it while the others stream.
    const sent = await Promise.all(
      convs.map((c, i) =>
        c.conn.send(i === CONVERSATIONS - 1 ? "count to 5000" : `count to ${COUNT}`),
      ),
    );
    const stopper = convs.at(-1)!;
    const stopped = sent.at(-1)!.messageId;
    await waitFor(() => stopper.tokens.length >= 5, { what: "the long answer's first tokens" });
    const reply = await stopper.conn.cancel();
    expect(reply).toMatchObject({ cancelled: true, messageId: stopped });
    const atReply = stopper.tokens.length;

    for (const [i, c] of convs.slice(0, -1).entries()) {
      const done = await waitFor(
        () => (c.messages.get(sent[i]!.messageId)?.status === "complete" ? true : undefined),
        { what: `answer ${i} complete`, timeout: 60_000 },
      );
      expect(done).toBe(true);
      const mine = c.tokens.filter((t) => t.messageId === sent[i]!.messageId);
      let pos = 0;
      for (const t of mine) {
        expect(t.start).toBe(pos);
        pos += t.delta.length;
      }
      expect(mine.map((t) => t.delta).join("")).toBe(expected);
    }
    const end = stopper.messages.get(stopped);
    expect(end?.status).toBe("stopped");
    // A round trip after the reply: any token sent before it has arrived by now.
    const view = await stopper.conn.getConversation();
    expect(stopper.tokens.length).toBe(atReply);
    const text = stopper.tokens.map((t) => t.delta).join("");
    expect(view.messages.find((m) => m.id === stopped)?.text).toBe(text);
    expect(text.length).toBeLessThan(expected.length * 5);

    // Every answer reaches SQL (the outboxes write through one shared writer).
    await waitFor(
      async () => {
        const rows = await app.sql<{ n: string }>(
          "select count(*) as n from messages where role = 'assistant' and status in ('complete', 'stopped') and conversation_id = any($1)",
          [convs.map((c) => c.id)],
        );
        return Number(rows[0]!.n) === CONVERSATIONS ? true : undefined;
      },
      { what: "every answer in SQL", timeout: 30_000 },
    );
  } finally {
    await Promise.all(convs.map((c) => c.conn.dispose()));
  }
  expect(logger.entries.filter((e) => e.level === "warn" || e.level === "error")).toEqual([]);
});
