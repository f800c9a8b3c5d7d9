// What survives a restart or a crash: an answer cut by kill -9 (or a graceful stop) is
// "interrupted", coherent and not duplicated; an approval waits across a restart and the answer
// goes on; a reminder set before a restart fires once after it (not before), with nobody
// connected.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Auth } from "troupe/accounts";
import { createClient } from "troupe/client";
import { createScratchDatabase } from "troupe/db";
import { captureLogger, freePort, ManualClock } from "troupe/test";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  startTestApp,
  TEST_SECRET,
  type TestApp,
  type TestUser,
  waitFor,
} from "../../test/helpers.js";
import type { AgentRegistry, ChatMessage } from "./index.js";

const TEMPLATE_DIR = join(import.meta.dirname, "../..");
const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (disposers.length) await disposers.pop()!();
});

function countTo(n: number): string {
  return Array.from({ length: n }, (_, i) => i + 1).join(" ");
}

describe("kill -9 mid-answer", () => {
  let dataDir: string;
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    scratch = await createScratchDatabase(process.env.DATABASE_URL!);
    dataDir = await mkdtemp(join(tmpdir(), "ai-agent-kill-"));
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await new Promise((r) => child!.once("exit", r));
    }
    await scratch?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function startChild(port: number): Promise<{ url: string; proc: ChildProcess }> {
    const proc = spawn(process.execPath, ["--import", "tsx", "test/server-process.ts"], {
      cwd: TEMPLATE_DIR,
      env: {
        ...process.env,
        DATABASE_URL: scratch.url,
        TEST_DATA_DIR: dataDir,
        PORT: String(port),
        STAND_IN_TOKENS_PER_SECOND: "100",
        SAVE_INTERVAL_MS: "100",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout!.on("data", (d) => {
      out += d;
    });
    proc.stderr!.on("data", (d) => {
      out += d;
    });
    const url = await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`server exited: ${out}`);
        return /ready (\S+)/.exec(out)?.[1];
      },
      { timeout: 30_000, what: "the server process" },
    );
    return { url, proc };
  }

  it("leaves the partial answer 'interrupted' (its last save), and the conversation usable", async () => {
    const port = await freePort();
    const first = await startChild(port);
    child = first.proc;
    // A token signed with the server's secret, as its sign-in would (the child's own routes
    // would do as well; this keeps the test to what it is about).
    const ada: TestUser = {
      userId: "u-kill",
      displayName: "Ada",
      token: await new Auth({ secret: TEST_SECRET }).sign({
        id: "u-kill",
        name: "Ada",
        org: "acme",
      }),
    };
    const client = createClient<AgentRegistry>(first.url);
    disposers.push(() => client.dispose());
    const { id } = await client.agentList
      .getOrCreate([ada.userId], { params: { token: ada.token } })
      .createConversation();
    const conn = client.agent.get([ada.userId, id], { params: { token: ada.token } }).connect();
    conn.onError(() => {});
    let received = "";
    conn.on("token", (t) => {
      received += t.delta;
    });
    await waitFor(() => conn.status === "connected");
    const { messageId } = await conn.send("count to 3000");
    // Well past a few saves (every 100 ms).
    await waitFor(() => received.split(" ").length > 40, { what: "tokens before the kill" });
    first.proc.kill("SIGKILL");
    await new Promise((r) => first.proc.once("exit", r));
    await conn.dispose();

    const second = await startChild(port);
    child = second.proc;
    const client2 = createClient<AgentRegistry>(second.url);
    disposers.push(() => client2.dispose());
    const h = client2.agent.get([ada.userId, id], { params: { token: ada.token } });
    const view = await h.getConversation();
    const msg = view.messages.find((m) => m.id === messageId)!;
    expect(msg.status).toBe("interrupted");
    // Coherent: a prefix of what was streamed (as of its last save), never a broken text.
    expect(msg.text.length).toBeGreaterThan(0);
    expect(received.startsWith(msg.text)).toBe(true);
    expect(countTo(3000).startsWith(msg.text)).toBe(true);
    expect(view.generating).toBeNull();
    // Usable, and nothing doubled.
    const next = await h.send("what is 2 * 21");
    const done = await waitFor(async () => {
      const v = await h.getConversation();
      const m = v.messages.find((x) => x.id === next.messageId);
      return m?.status === "complete" ? v : undefined;
    });
    expect(done.messages.map((m) => [m.role, m.status])).toEqual([
      ["user", "complete"],
      ["assistant", "interrupted"],
      ["user", "complete"],
      ["assistant", "complete"],
    ]);
    expect(done.messages.at(-1)!.text).toBe("Calculating. The answer is 42.");
    // SQL agrees, once the outbox has drained.
    await waitFor(
      async () => {
        const rows = await sql<{ status: string }>(
          scratch.url,
          "SELECT status FROM messages WHERE conversation_id = $1 ORDER BY seq",
          [id],
        );
        return rows.map((r) => r.status).join() === "complete,interrupted,complete,complete";
      },
      { what: "the messages in SQL" },
    );
  });
});

async function sql<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const pg = (await import("pg")).default;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

describe("restarts", () => {
  let app: TestApp;
  const logger = captureLogger();
  beforeAll(async () => {
    app = await startTestApp({ tokensPerSecond: 100, logger, tuning: { saveIntervalMs: 50 } });
  });
  afterAll(() => app?.close());

  async function conversation(u: TestUser) {
    const { id } = await app.client.agentList
      .getOrCreate([u.userId], { params: { token: u.token } })
      .createConversation();
    return id;
  }
  const handle = (u: TestUser, id: string) =>
    app.client.agent.get([u.userId, id], { params: { token: u.token } });
  async function messageOf(u: TestUser, id: string, messageId: string, status: string) {
    return waitFor(
      async () => {
        const m = (await handle(u, id).getConversation()).messages.find((x) => x.id === messageId);
        return m?.status === status ? m : undefined;
      },
      { what: `message ${status}`, timeout: 20_000 },
    );
  }

  it("a graceful stop mid-answer ends it as 'interrupted' with all its text", async () => {
    const ada = await app.user("Ada");
    const id = await conversation(ada);
    const conn = handle(ada, id).connect();
    conn.onError(() => {});
    disposers.push(() => conn.dispose());
    let received = "";
    conn.on("token", (t) => {
      received += t.delta;
    });
    await waitFor(() => conn.status === "connected");
    const { messageId } = await conn.send("count to 3000");
    await waitFor(() => received.length > 20);
    await app.restart();
    const m = await messageOf(ada, id, messageId, "interrupted");
    expect(countTo(3000).startsWith(m.text)).toBe(true);
    expect(m.text.length).toBeGreaterThanOrEqual(received.length);
  });

  it("an approval waits across a restart, and the answer goes on when it is given", async () => {
    const ada = await app.user("Ada");
    const id = await conversation(ada);
    let h = handle(ada, id);
    let r = await h.send("save a note: water the plants");
    await messageOf(ada, id, r.messageId, "complete");
    r = await h.send("delete my notes about plants");
    await messageOf(ada, id, r.messageId, "awaiting_approval");
    await app.restart();
    h = handle(ada, id);
    const { approval } = await h.getConversation();
    expect(approval).toMatchObject({ toolName: "deleteNote", messageId: r.messageId });
    await h.approve(approval!.approvalId);
    const m: ChatMessage = await messageOf(ada, id, r.messageId, "complete");
    expect(m.text).toBe("I need your approval to delete notes. Deleted 1 note.");
    expect(await app.sql("SELECT id FROM notes WHERE user_id = $1", [ada.userId])).toEqual([]);
  });
});

describe("a reminder across a restart", () => {
  // The actors' alarms run on a clock the test moves (troupe/test's ManualClock, the same one
  // across the restart): the reminder is due only when the test says so, so it cannot have
  // fired before the restart however slow the machine, and what makes it fire is the restart's
  // stored alarm.
  const clock = new ManualClock();
  const logger = captureLogger();
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ logger, clock });
  });
  afterAll(() => app?.close());

  it("fires once after a restart, with nobody connected, and not before", async () => {
    const ada = await app.user("Ada");
    const { id } = await app.client.agentList
      .getOrCreate([ada.userId], { params: { token: ada.token } })
      .createConversation();
    const handle = () => app.client.agent.get([ada.userId, id], { params: { token: ada.token } });
    const reminderRows = () =>
      app.sql<{ text: string }>(
        "SELECT text FROM messages WHERE conversation_id = $1 AND role = 'reminder'",
        [id],
      );
    const r = await handle().send("remind me in 2 minutes to stretch");
    const m = await waitFor(
      async () => {
        const x = (await handle().getConversation()).messages.find((y) => y.id === r.messageId);
        return x?.status === "complete" ? x : undefined;
      },
      { what: "the answer that sets the reminder" },
    );
    expect(m.toolCalls).toEqual([expect.objectContaining({ name: "remindMe", status: "done" })]);
    const due = Date.parse((m.toolCalls[0]!.result as { at: string }).at);
    expect(clock.now()).toBeLessThan(due);
    // Not fired before the restart.
    const before = await handle().getConversation();
    expect(before.messages.filter((x) => x.role === "reminder")).toEqual([]);
    await app.restart();
    expect(await reminderRows()).toEqual([]);
    // Its time comes after the restart. Nobody calls the conversation: the stored alarm wakes
    // it, and the outbox writes the message.
    await clock.set(due);
    const rows = await waitFor(
      async () => {
        const rows = await reminderRows();
        return rows.length > 0 ? rows : undefined;
      },
      { what: "the reminder in SQL", timeout: 20_000 },
    );
    expect(rows).toEqual([{ text: "Reminder: stretch" }]);
    const view = await handle().getConversation();
    expect(view.messages.filter((x) => x.role === "reminder").map((x) => x.text)).toEqual([
      "Reminder: stretch",
    ]);
    // Restarted again after it fired: still once.
    await app.restart();
    const again = await handle().getConversation();
    expect(again.messages.filter((x) => x.role === "reminder")).toHaveLength(1);
    expect(await reminderRows()).toHaveLength(1);
  });
});
