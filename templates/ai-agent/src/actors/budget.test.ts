// The daily token budget per user (kept by the user's agentList, across all conversations) and
// usage in SQL; and every message and tool call reaching SQL after a database outage.
import { captureLogger, proxyUrl, type TcpProxy } from "troupe/test";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { errorOf, startTestApp, type TestApp, type TestUser, waitFor } from "../../test/helpers.js";
import { utcDay } from "./services.js";

const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (disposers.length) await disposers.pop()!();
});

function clients(app: TestApp, u: TestUser) {
  const list = app.client.agentList.getOrCreate([u.userId], { params: { token: u.token } });
  return {
    list,
    agent: (id: string) => app.client.agent.get([u.userId, id], { params: { token: u.token } }),
  };
}

async function complete(app: TestApp, u: TestUser, id: string, messageId: string) {
  return waitFor(
    async () => {
      const v = await clients(app, u).agent(id).getConversation();
      const m = v.messages.find((x) => x.id === messageId);
      return m && m.status !== "streaming" ? m : undefined;
    },
    { what: "the answer", timeout: 20_000 },
  );
}

describe("daily token budget", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ tuning: { dailyTokenBudget: 40 } });
  });
  afterAll(() => app?.close());

  it("refuses with budget_exhausted once today's tokens are spent, in every conversation", async () => {
    const ada = await app.user("Ada");
    const { list, agent } = clients(app, ada);
    const first = (await list.createConversation()).id;
    const r = await agent(first).send("count to 45");
    const m = await complete(app, ada, first, r.messageId);
    // Input counts the system prompt's words too (15) besides the prompt's 3.
    expect(m.usage).toEqual({ inputTokens: 18, outputTokens: 45 });
    await waitFor(async () => (await list.usageToday()).outputTokens === 45, {
      what: "usage recorded in the list",
    });
    expect(await list.usageToday()).toEqual({
      day: utcDay(),
      inputTokens: 18,
      outputTokens: 45,
      budget: 40,
    });
    const refused = await errorOf(agent(first).send("hello"));
    expect(refused.code).toBe("budget_exhausted");
    expect(refused.message).toMatch(/resets at midnight UTC/);
    // A new conversation does not reset it; nothing was added to either.
    const second = (await list.createConversation()).id;
    expect((await errorOf(agent(second).send("hello"))).code).toBe("budget_exhausted");
    expect((await agent(second).getConversation()).messages).toEqual([]);
    expect((await agent(first).getConversation()).messages).toHaveLength(2);
    // Another user has their own budget.
    const bo = await app.user("Bo");
    const boConv = (await clients(app, bo).list.createConversation()).id;
    const br = await clients(app, bo).agent(boConv).send("what is 1 + 1");
    expect((await complete(app, bo, boConv, br.messageId)).status).toBe("complete");
    // SQL has the day's totals.
    await waitFor(
      async () =>
        (
          await app.sql<{ output_tokens: string }>(
            "SELECT output_tokens FROM usage_daily WHERE user_id = $1 AND day = $2",
            [ada.userId, utcDay()],
          )
        )[0]?.output_tokens === "45",
      { what: "usage in SQL" },
    );
  });
});

describe("SQL after a database outage", () => {
  let app: TestApp;
  let proxy: TcpProxy | undefined;
  const logger = captureLogger();
  beforeAll(async () => {
    app = await startTestApp({
      logger,
      appDatabaseUrl: async (scratch) => {
        const through = await proxyUrl(scratch);
        proxy = through.proxy;
        return through.url;
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await proxy?.close();
  });

  it("every message and tool call is in SQL once the database is back", async () => {
    const ada = await app.user("Ada");
    const { list, agent } = clients(app, ada);
    const id = (await list.createConversation()).id;
    await proxy!.cut();
    // The actors keep working from their state while the database is away.
    const prompts = ["what is 2 + 3", "count to 5", "what is 7 * 6"];
    for (const p of prompts) {
      const r = await agent(id).send(p);
      expect((await complete(app, ada, id, r.messageId)).status).toBe("complete");
    }
    const view = await agent(id).getConversation();
    expect(view.messages).toHaveLength(6);
    // The app's pool goes through the proxy; this query does not: nothing has landed yet.
    expect(await app.sql("SELECT id FROM messages WHERE conversation_id = $1", [id])).toEqual([]);
    await proxy!.restore();
    await waitFor(
      async () => {
        const rows = await app.sql<{ id: string; status: string; text: string }>(
          "SELECT id, status, text FROM messages WHERE conversation_id = $1 ORDER BY seq",
          [id],
        );
        return (
          JSON.stringify(rows) ===
          JSON.stringify(view.messages.map((m) => ({ id: m.id, status: m.status, text: m.text })))
        );
      },
      { what: "the messages in SQL", timeout: 30_000 },
    );
    const calls = await app.sql<{ name: string; status: string; result: unknown }>(
      "SELECT name, status, result FROM tool_calls WHERE conversation_id = $1 ORDER BY created_at",
      [id],
    );
    expect(calls).toEqual([
      { name: "calculator", status: "done", result: { expression: "2 + 3", result: 5 } },
      { name: "calculator", status: "done", result: { expression: "7 * 6", result: 42 } },
    ]);
    const conv = await app.sql<{ title: string }>("SELECT title FROM conversations WHERE id = $1", [
      id,
    ]);
    expect(conv).toEqual([{ title: "what is 2 + 3" }]);
  });
});
