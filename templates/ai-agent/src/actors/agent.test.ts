// The agent over real sockets, a real Postgres and the stand-in model: streaming to several
// connections, Stop, resuming from a position, ownership, restarts (interrupted answers,
// approvals, reminders), the daily budget and bad input.
import { captureLogger } from "troupe/test";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { errorOf, startTestApp, type TestApp, type TestUser, waitFor } from "../../test/helpers.js";
import { applyChunk, applyToken, emptyStream, type FollowedStream } from "../stream.js";
import type { ChatMessage, PendingApproval, TokenEvent } from "./agent.js";

/** Slow enough that a test acts mid-answer, fast enough to stay short. */
const TPS = 100;
/** A model silent this long ends the answer as "error" (long enough for a loaded machine). */
const STALL_MS = 3000;
let app: TestApp;
const logger = captureLogger();
const disposers: (() => Promise<void>)[] = [];
/** What the tools await right before a change becomes permanent; set by `holdTool`. */
let beforeToolCommit: ((tool: string, signal?: AbortSignal) => Promise<void>) | undefined;

beforeAll(async () => {
  app = await startTestApp({
    tokensPerSecond: TPS,
    logger,
    tuning: {
      saveIntervalMs: 50,
      stallTimeoutMs: STALL_MS,
      beforeToolCommit: (tool, signal) => beforeToolCommit?.(tool, signal) ?? Promise.resolve(),
    },
  });
});
afterEach(async () => {
  beforeToolCommit = undefined;
  while (disposers.length) await disposers.pop()!();
});

/**
 * Holds the next run of `tool` right before its change becomes permanent, until `release()`;
 * `signal` is the generation's signal that run was given.
 */
function holdTool(tool: string) {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const held: { signal?: AbortSignal; release: () => void } = { release };
  beforeToolCommit = async (name, signal) => {
    if (name !== tool) return;
    beforeToolCommit = undefined;
    held.signal = signal;
    await released;
  };
  return held;
}

/** The conversation's actor as storage has it: its state and its pending alarms. */
async function stored(u: TestUser, conversationId: string) {
  const { engine } = await app.server.registry.ensureRuntime();
  const record = await engine.findByKey("agent", [u.userId, conversationId]);
  const data = JSON.parse(record!.data) as {
    state: { reminders: Record<string, { text: string }> };
    schedule: { action: string; args: unknown[] }[];
  };
  return {
    reminders: Object.values(data.state.reminders).map((r) => r.text),
    reminderAlarms: data.schedule.filter((a) => a.action === "deliverReminder"),
  };
}
afterAll(() => app?.close());

function track<T extends { dispose(): Promise<void> }>(conn: T): T {
  disposers.push(() => conn.dispose());
  return conn;
}

function list(u: TestUser) {
  return app.client.agentList.getOrCreate([u.userId], { params: { token: u.token } });
}

async function newConversation(u: TestUser): Promise<string> {
  return (await list(u).createConversation()).id;
}

function agent(u: TestUser, conversationId: string) {
  return app.client.agent.get([u.userId, conversationId], { params: { token: u.token } });
}

/** A connection with its token events and latest message snapshots recorded. */
async function open(u: TestUser, conversationId: string) {
  const conn = track(agent(u, conversationId).connect());
  const tokens: TokenEvent[] = [];
  const messages = new Map<string, ChatMessage>();
  const approvals: PendingApproval[] = [];
  conn.on("token", (t) => tokens.push(t));
  conn.on("message", (m) => messages.set(m.id, m));
  conn.on("messageUpdated", (m) => messages.set(m.id, m));
  conn.on("approvalRequested", (a) => approvals.push(a));
  await waitFor(() => conn.status === "connected", { what: "the connection" });
  const textOf = (messageId: string) =>
    tokens
      .filter((t) => t.messageId === messageId)
      .map((t) => t.delta)
      .join("");
  return { conn, tokens, messages, approvals, textOf };
}

async function finished(
  messages: Map<string, ChatMessage>,
  id: string,
  status: ChatMessage["status"] = "complete",
) {
  return waitFor(() => (messages.get(id)?.status === status ? messages.get(id) : undefined), {
    what: `message ${status}`,
    timeout: 20_000,
  });
}

describe("streaming", () => {
  it("streams the same tokens, in order, to every connection of the conversation", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const a = await open(ada, id);
    const b = await open(ada, id);
    const { messageId } = await a.conn.send("count to 30");
    const done = await finished(a.messages, messageId);
    await finished(b.messages, messageId);
    const expected = Array.from({ length: 30 }, (_, i) => i + 1).join(" ");
    expect(done.text).toBe(expected);
    expect(a.textOf(messageId)).toBe(expected);
    expect(b.tokens.filter((t) => t.messageId === messageId)).toEqual(
      a.tokens.filter((t) => t.messageId === messageId),
    );
    // Positions are offsets: each token starts where the previous one ended.
    let pos = 0;
    for (const t of a.tokens.filter((t) => t.messageId === messageId)) {
      expect(t.start).toBe(pos);
      pos += t.delta.length;
    }
    const view = await a.conn.getConversation();
    expect(view.title).toBe("count to 30");
    expect(view.messages.map((m) => [m.role, m.status])).toEqual([
      ["user", "complete"],
      ["assistant", "complete"],
    ]);
    expect(view.usage.outputTokens).toBe(30);
    expect(view.model).toMatch(/stand-in/);
  });

  it("broadcasts the title taken from the first prompt to every tab and the list at once", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const a = await open(ada, id);
    const b = await open(ada, id);
    const titles: string[] = [];
    b.conn.on("titleChanged", (t) => titles.push(t.title));
    const lists = track(list(ada).connect());
    const listed: string[] = [];
    lists.on("conversationsChanged", (all) => {
      const mine = all.find((c) => c.id === id);
      if (mine) listed.push(mine.title);
    });
    await waitFor(() => lists.status === "connected", { what: "the list connection" });
    const { messageId } = await a.conn.send("count   to 2000");
    // While the answer still streams: the other tab and the list have the new title.
    await waitFor(() => titles.length === 1, { what: "the title in the second tab" });
    expect(titles).toEqual(["count to 2000"]);
    await waitFor(() => listed.includes("count to 2000"), { what: "the title in the list" });
    expect(b.messages.get(messageId)?.status).toBe("streaming");
    expect((await b.conn.getConversation()).title).toBe("count to 2000");
    await a.conn.cancel();
    // Only the first prompt names the conversation.
    const next = await a.conn.send("what is 1 + 1");
    await finished(a.messages, next.messageId);
    expect(titles).toEqual(["count to 2000"]);
  });

  it("cancel stops mid-answer: partial text kept as 'stopped', no token after the reply", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const a = await open(ada, id);
    const { messageId } = await a.conn.send("count to 2000");
    await waitFor(() => a.tokens.length >= 5, { what: "a few tokens" });
    const reply = await a.conn.cancel();
    expect(reply).toEqual({ cancelled: true, messageId });
    // The end of the stream went out at the abort, ahead of the reply (which waits for the
    // durable write): on the same socket, the "stopped" update is already here.
    expect(a.messages.get(messageId)?.status).toBe("stopped");
    const atReply = a.tokens.length;
    // A round trip on the same socket: a token sent before its answer would be here by now.
    const view = await a.conn.getConversation();
    expect(a.tokens.length).toBe(atReply);
    const msg = view.messages.find((m) => m.id === messageId)!;
    expect(msg.status).toBe("stopped");
    expect(msg.text).toBe(a.textOf(messageId));
    expect(msg.text.length).toBeGreaterThan(0);
    expect(msg.text.split(" ").length).toBeLessThan(2000);
    // The words streamed before Stop are usage (the model reports none for a step cut short),
    // on the message, the conversation, the user's day and in SQL.
    const streamed = a.tokens.filter((t) => t.messageId === messageId).length;
    expect(msg.usage.outputTokens).toBe(streamed);
    expect(view.usage.outputTokens).toBe(streamed);
    await waitFor(async () => (await list(ada).usageToday()).outputTokens === streamed, {
      what: "the stopped answer's tokens in today's usage",
    });
    await waitFor(
      async () =>
        (
          await app.sql<{ output_tokens: string }>(
            "SELECT output_tokens FROM usage_daily WHERE user_id = $1",
            [ada.userId],
          )
        )[0]?.output_tokens === String(streamed),
      { what: "the stopped answer's tokens in SQL" },
    );
    // Nothing running now: a clear no-op, and the conversation takes the next prompt.
    expect(await a.conn.cancel()).toEqual({
      cancelled: false,
      reason: "Nothing is being generated.",
    });
    const next = await a.conn.send("what is 6 * 7");
    expect((await finished(a.messages, next.messageId)).text).toBe(
      "Calculating. The answer is 42.",
    );
  });

  it("a client that reconnects mid-answer continues from its position, without gap or duplicate", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const first = await open(ada, id);
    const { messageId } = await first.conn.send("count to 300");
    await waitFor(() => first.tokens.length >= 10, { what: "some tokens" });
    await first.conn.dispose();
    let followed: FollowedStream = emptyStream(messageId, first.textOf(messageId));
    const resumeAt = followed.text.length;

    // The page comes back: subscribe first (open() records tokens), then ask for what was missed.
    const second = await open(ada, id);
    const chunk = await second.conn.readStream(messageId, resumeAt);
    expect(chunk.from).toBe(resumeAt);
    expect(chunk.status).toBe("streaming");
    followed = applyChunk(followed, chunk);
    const done = await finished(second.messages, messageId);
    // Tokens that came before the answer overlap it and are dropped; the rest continue it.
    for (const t of second.tokens) {
      const r = applyToken(followed, t);
      expect(r.gap).toBe(false);
      followed = r.stream;
    }
    expect(followed.text).toBe(done.text);
    expect(done.text).toBe(Array.from({ length: 300 }, (_, i) => i + 1).join(" "));
  });

  it("one generation at a time: a second prompt is refused with generation_in_progress", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const a = await open(ada, id);
    const { messageId } = await a.conn.send("count to 2000");
    const err = await errorOf(a.conn.send("hello?"));
    expect(err.code).toBe("generation_in_progress");
    await a.conn.cancel();
    await finished(a.messages, messageId, "stopped");
  });
});

describe("ownership", () => {
  it("another user can neither connect to, call, nor create someone's conversations", async () => {
    const ada = await app.user("Ada");
    const eve = await app.user("Eve");
    const id = await newConversation(ada);
    // Ada's list and agent with Eve's token.
    const adaListAsEve = app.client.agentList.getOrCreate([ada.userId], {
      params: { token: eve.token },
    });
    expect((await errorOf(adaListAsEve.listConversations())).code).toBe("forbidden");
    expect((await errorOf(adaListAsEve.createConversation())).code).toBe("forbidden");
    const adaAgentAsEve = app.client.agent.get([ada.userId, id], { params: { token: eve.token } });
    expect((await errorOf(adaAgentAsEve.getConversation())).code).toBe("forbidden");
    expect((await errorOf(adaAgentAsEve.send("mine now"))).code).toBe("forbidden");
    const conn = track(adaAgentAsEve.connect());
    const refused = await new Promise<{ code: string }>((resolve) => conn.onError(resolve));
    expect(refused.code).toBe("forbidden");

    // Creating under someone else's key, or beside the list under one's own: refused, nothing made.
    const made = app.client.agent.getOrCreate([ada.userId, "eve-made-this"], {
      params: { token: eve.token },
    });
    expect((await errorOf(made.getConversation())).code).toBe("forbidden");
    const own = app.client.agent.getOrCreate([eve.userId, "beside-the-list"], {
      params: { token: eve.token },
    });
    expect((await errorOf(own.getConversation())).code).toBe("create_through_list");
    const stored = app.client.agent.get([eve.userId, "beside-the-list"], {
      params: { token: eve.token },
    });
    expect((await errorOf(stored.getConversation())).code).toBe("actor_not_found");
    const longKey = app.client.agentList.getOrCreate([eve.userId, "second-list"], {
      params: { token: eve.token },
    });
    expect((await errorOf(longKey.listConversations())).code).toBe("forbidden");

    // No token, or a forged one.
    const anon = app.client.agentList.getOrCreate([ada.userId], { params: {} });
    expect((await errorOf(anon.listConversations())).code).toBe("auth_required");
    const forged = app.client.agentList.getOrCreate([ada.userId], {
      params: { token: `${ada.token.slice(0, -4)}AAAA` },
    });
    expect((await errorOf(forged.listConversations())).code).toBe("invalid_token");
    // The owner still sees exactly their one conversation.
    expect((await list(ada).listConversations()).map((c) => c.id)).toEqual([id]);
  });
});

describe("sessions", () => {
  it("signing out closes the conversation's open connections and refuses the token", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const a = await open(ada, id);
    const closed = new Promise<{ code: string; metadata: unknown }>((resolve) =>
      a.conn.onError(resolve),
    );
    const res = await fetch(`${app.url}/api/auth/sign-out`, {
      method: "POST",
      headers: { authorization: `Bearer ${ada.token}` },
    });
    expect(res.status).toBe(200);
    const err = await closed;
    expect([err.code, err.metadata]).toEqual([
      "connection_closed",
      { code: 4000, reason: "session_revoked" },
    ]);
    expect((await errorOf(agent(ada, id).getConversation())).code).toBe("session_revoked");
  });
});

describe("tools", () => {
  it("notes: save, find, and delete only after approval (deny leaves them)", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const a = await open(ada, id);
    let r = await a.conn.send("save a note: buy oat milk");
    let m = await finished(a.messages, r.messageId);
    expect(m.text).toBe("Saving that note. Saved your note.");
    expect(m.toolCalls.map((t) => [t.name, t.status])).toEqual([["saveNote", "done"]]);

    r = await a.conn.send("find my notes about milk");
    m = await finished(a.messages, r.messageId);
    expect(m.text).toContain('I found 1 note: "buy oat milk".');

    // Another user's search does not see Ada's notes.
    const bo = await app.user("Bo");
    const boConv = await newConversation(bo);
    const b = await open(bo, boConv);
    const br = await b.conn.send("find my notes about milk");
    expect((await finished(b.messages, br.messageId)).text).toContain("I found no notes");

    r = await a.conn.send("delete the note about milk");
    m = await finished(a.messages, r.messageId, "awaiting_approval");
    const approval = (await a.conn.getConversation()).approval!;
    expect(approval).toMatchObject({ toolName: "deleteNote", args: { query: "milk" } });
    expect(a.approvals.at(-1)?.approvalId).toBe(approval.approvalId);
    expect((await errorOf(a.conn.send("something else"))).code).toBe("approval_pending");
    await a.conn.deny(approval.approvalId);
    m = await finished(a.messages, r.messageId);
    expect(m.text).toContain("Understood: I did not run deleteNote.");
    expect(await app.sql("SELECT text FROM notes WHERE user_id = $1", [ada.userId])).toHaveLength(
      1,
    );

    r = await a.conn.send("delete the note about milk");
    await finished(a.messages, r.messageId, "awaiting_approval");
    const second = (await a.conn.getConversation()).approval!;
    expect((await errorOf(a.conn.approve(approval.approvalId))).code).toBe("approval_not_found");
    await a.conn.approve(second.approvalId);
    m = await finished(a.messages, r.messageId);
    expect(m.toolCalls.map((t) => [t.name, t.status])).toEqual([["deleteNote", "done"]]);
    // The request was made before the call, the outcome after it: the page shows the request
    // above the card and only the outcome below it (messageParts), not one stale paragraph.
    const at = m.toolCalls[0]!.textAt!;
    expect(m.text.slice(0, at)).toBe("I need your approval to delete notes. ");
    expect(m.text.slice(at)).toBe("Deleted 1 note.");
    // The same in a fresh snapshot (what a reload shows).
    const stored = (await a.conn.getConversation()).messages.find((x) => x.id === r.messageId)!;
    expect(stored.toolCalls[0]!.textAt).toBe(at);
    expect(await app.sql("SELECT text FROM notes WHERE user_id = $1", [ada.userId])).toHaveLength(
      0,
    );
  });

  it("Stop while a tool waits for approval ends the answer: nothing deleted, the next prompt works", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const a = await open(ada, id);
    let r = await a.conn.send("save a note: call the plumber");
    await finished(a.messages, r.messageId);
    r = await a.conn.send("delete the note about plumber");
    await finished(a.messages, r.messageId, "awaiting_approval");
    const { approval } = await a.conn.getConversation();
    expect(await a.conn.cancel()).toEqual({ cancelled: true, messageId: r.messageId });
    const m = await finished(a.messages, r.messageId, "stopped");
    expect(m.toolCalls.map((t) => [t.name, t.status])).toEqual([["deleteNote", "denied"]]);
    expect((await a.conn.getConversation()).approval).toBeNull();
    expect((await errorOf(a.conn.approve(approval!.approvalId))).code).toBe("approval_not_found");
    expect(await app.sql("SELECT id FROM notes WHERE user_id = $1", [ada.userId])).toHaveLength(1);
    const next = await a.conn.send("find my notes about plumber");
    expect((await finished(a.messages, next.messageId)).text).toContain('"call the plumber"');
  });

  it("Stop while a tool runs stops the tool: no note, no reminder, no alarm; unstopped ones land", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const a = await open(ada, id);
    const notes = async () =>
      (await app.sql<{ text: string }>("SELECT text FROM notes WHERE user_id = $1", [ada.userId]))
        .map((r) => r.text)
        .sort();
    for (const [prompt, tool] of [
      ["save a note: buy oat milk", "saveNote"],
      ["remind me in 2 minutes to stretch", "remindMe"],
    ] as const) {
      const held = holdTool(tool);
      const { messageId } = await a.conn.send(prompt);
      // The tool runs (its card says so) and is held before its change is made permanent.
      await waitFor(() => held.signal && a.messages.get(messageId)?.toolCalls[0]?.status, {
        what: `${tool} held, its card shown`,
      });
      expect(a.messages.get(messageId)!.toolCalls[0]).toMatchObject({
        name: tool,
        status: "running",
      });
      const cancelled = a.conn.cancel();
      await waitFor(() => held.signal!.aborted, { what: `the Stop reaching ${tool}` });
      // Released only now: whatever the tool does next, it does after the Stop.
      held.release();
      expect(await cancelled).toEqual({ cancelled: true, messageId });
      const msg = (await a.conn.getConversation()).messages.find((m) => m.id === messageId)!;
      expect(msg.status).toBe("stopped");
      expect(msg.toolCalls).toEqual([
        expect.objectContaining({
          name: tool,
          status: "error",
          error: "Stopped before it finished.",
        }),
      ]);
      expect(a.messages.get(messageId)).toMatchObject({ status: "stopped" });
      expect(await notes()).toEqual([]);
      expect(await stored(ada, id)).toEqual({ reminders: [], reminderAlarms: [] });
    }
    // The tool cards in SQL say the same.
    await waitFor(
      async () =>
        (
          await app.sql<{ status: string }>(
            "SELECT status FROM tool_calls WHERE conversation_id = $1 AND status = 'error'",
            [id],
          )
        ).length === 2,
      { what: "the stopped tool calls in SQL" },
    );

    // Not stopped, the same tools save and schedule.
    let r = await a.conn.send("save a note: buy bread");
    let m = await finished(a.messages, r.messageId);
    expect(m.toolCalls.map((t) => [t.name, t.status])).toEqual([["saveNote", "done"]]);
    r = await a.conn.send("remind me in 2 minutes to stretch");
    m = await finished(a.messages, r.messageId);
    expect(m.toolCalls.map((t) => [t.name, t.status])).toEqual([["remindMe", "done"]]);
    // Only now, after two whole answers: a stopped tool that went on would have landed by now.
    expect(await notes()).toEqual(["buy bread"]);
    const after = await waitFor(
      async () => {
        const s = await stored(ada, id);
        return s.reminderAlarms.length > 0 ? s : undefined;
      },
      { what: "the reminder stored" },
    );
    expect(after.reminders).toEqual(["stretch"]);
    expect(after.reminderAlarms).toHaveLength(1);
  });

  it("bad tool calls from the model become error results and the answer goes on", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const a = await open(ada, id);
    let r = await a.conn.send("call the tool launchMissiles");
    let m = await finished(a.messages, r.messageId);
    expect(m.toolCalls).toEqual([
      expect.objectContaining({ name: "launchMissiles", status: "error" }),
    ]);
    expect(m.text).toMatch(/The launchMissiles tool failed: .*launchMissiles/);

    r = await a.conn.send("use the calculator with bad arguments");
    m = await finished(a.messages, r.messageId);
    expect(m.toolCalls).toEqual([expect.objectContaining({ name: "calculator", status: "error" })]);
    expect(m.text).toMatch(/The calculator tool failed/);

    r = await a.conn.send("what is 1 / 0");
    m = await finished(a.messages, r.messageId);
    expect(m.text).toContain("The calculator tool failed: Division by zero.");
  });
});

describe("bad input", () => {
  it("empty and oversized prompts are refused with a reason; nothing is added", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const h = agent(ada, id);
    const empty = await errorOf(h.send("   "));
    expect(empty.code).toBe("invalid_input");
    expect(empty.message).toMatch(/empty/);
    const big = await errorOf(h.send("x".repeat(8001)));
    expect(big.code).toBe("invalid_input");
    expect(big.message).toMatch(/at most 8000/);
    expect((await errorOf(h.send(42 as unknown as string))).code).toBe("invalid_input");
    expect((await h.getConversation()).messages).toEqual([]);
  });

  it("a provider that fails mid-answer ends the message as 'error' with the reason; the conversation goes on", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const a = await open(ada, id);
    const r = await a.conn.send("fail after 4 words");
    const m = await finished(a.messages, r.messageId, "error");
    expect(m.text).toBe("word1 word2 word3 word4");
    expect(m.error).toMatch(/failed on purpose/);
    const next = await a.conn.send("what is 2 + 2");
    expect((await finished(a.messages, next.messageId)).text).toBe("Calculating. The answer is 4.");
  });

  it("a provider that hangs mid-answer ends it as 'error' after the stall timeout", async () => {
    const ada = await app.user("Ada");
    const id = await newConversation(ada);
    const a = await open(ada, id);
    const r = await a.conn.send("stall after 3 words");
    const m = await finished(a.messages, r.messageId, "error");
    expect(m.text).toBe("word1 word2 word3");
    expect(m.error).toBe(`The model stopped answering (nothing for ${STALL_MS / 1000} s).`);
    const next = await a.conn.send("what is 3 + 3");
    expect((await finished(a.messages, next.messageId)).text).toBe("Calculating. The answer is 6.");
  });
});
