/**
 * AI agent benchmark with the stand-in model (no network, no weights). The server runs in its
 * own process (bench/server.ts: the app's `startAgentServer` against a scratch Postgres
 * database); this process is the clients: real WebSocket connections through the typed client
 * (`troupe/client`), one user each, with tokens signed by the server's secret. Prints:
 *
 * 1. streaming: CONVERSATIONS conversations streaming at once at TPS tokens/s: delivered token
 *    events/s, the server process's CPU over that window, and whether every token arrived in
 *    order (each one starting where the previous ended) and the text matched;
 * 2. time to first token added by the actor: ROUNDS interleaved pairs of (the stand-in called
 *    directly with `streamText` in this process, the same prompt through `send` on a
 *    connection), p50 and p99 of each and of the difference per pair, with nothing else running;
 * 3. cancel latency: every conversation streams, then cancels at a random moment; from sending
 *    `cancel` to the message's "stopped" update at the client (the stream's end), p50 / p99,
 *    and any token that arrived after the cancel reply;
 * 4. memory per idle conversation: the server's heap growth (after a GC there) for IDLE more
 *    conversations each answered once and left without connections (awake, before they sleep).
 *
 * Over the streaming and cancel windows it also prints the server's event loop: the share of the
 * time it was busy and how late it ran what was ready (p50 / p99 / max, beyond the 5 ms sampling
 * interval), and the clients' delay: a Stop waits for the loop to come round to its frame.
 * `BENCH_TURN_BUDGET_MS=0` runs the server without its turn budget (every part at once).
 *
 *   pnpm bench:ai-agent                                   # from the repo root
 *   CONVERSATIONS=200 TPS=50 TOKENS=150 ROUNDS=30 IDLE=200 pnpm bench:ai-agent
 *   BENCH_SERVER_PROFILE=/tmp/prof pnpm bench:ai-agent     # and a CPU profile of the server
 *
 * Without `DATABASE_URL` an embedded Postgres is used. A script that prints figures, not a test:
 * numbers depend on the machine (its load average is printed).
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { streamText } from "ai";
import { Auth } from "troupe/accounts";
import { createClient } from "troupe/client";
import { createScratchDatabase, resolveDatabaseUrl } from "troupe/db";
import type { AgentRegistry, ChatMessage, TokenEvent } from "../src/actors/index.js";
import { StandInModel } from "../src/model/stand-in.js";
import { applyChunk, applyToken, emptyStream, type FollowedStream } from "../src/stream.js";
import type { ServerReply } from "./server.js";

const CONVERSATIONS = Number(process.env.CONVERSATIONS ?? 200);
const TPS = Number(process.env.TPS ?? 50);
const TOKENS = Number(process.env.TOKENS ?? 150);
const ROUNDS = Number(process.env.ROUNDS ?? 30);
const IDLE = Number(process.env.IDLE ?? 200);
const SECRET = randomBytes(32).toString("hex");
/** Which parts to run (comma-separated): stream, ttft, cancel, memory. */
const PARTS = new Set((process.env.BENCH_PARTS ?? "stream,ttft,cancel,memory").split(","));

const base = await resolveDatabaseUrl({ name: "ai-agent-bench" });
const scratch = await createScratchDatabase(base);
const loadBefore = loadavg()[0]!;

function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const here = fileURLToPath(new URL(".", import.meta.url));
  const child = fork(join(here, "server.ts"), [], {
    execArgv: [
      "--expose-gc",
      "--import",
      "tsx",
      // Where the server's time goes: a V8 CPU profile, for Chrome's DevTools or speedscope.
      ...(process.env.BENCH_SERVER_PROFILE
        ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_SERVER_PROFILE}`]
        : []),
    ],
    env: {
      ...process.env,
      DATABASE_URL: scratch.url,
      BENCH_AUTH_SECRET: SECRET,
      BENCH_TPS: String(TPS),
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  // The server goes with this process, however this one ends.
  process.once("exit", () => child.kill("SIGKILL"));
  return new Promise((resolve, reject) => {
    child.once("exit", (code) =>
      reject(new Error(`the server exited (${code}) before it was ready`)),
    );
    child.on("message", (msg: ServerReply) => {
      if (msg.type === "ready") resolve({ child, url: msg.url });
    });
  });
}

/** Sends `type` to the server process and waits for its answer of the type `answer`. */
function ask<T extends ServerReply["type"]>(
  child: ChildProcess,
  type: string,
  answer: T,
): Promise<Extract<ServerReply, { type: T }>> {
  return new Promise((resolve) => {
    const on = (msg: ServerReply) => {
      if (msg.type !== answer) return;
      child.off("message", on);
      resolve(msg as Extract<ServerReply, { type: T }>);
    };
    child.on("message", on);
    child.send({ type });
  });
}

const { child, url } = await startServer();
// Tokens as the server's sign-in route signs them (without a session): the bench measures
// answers, not password hashing. The server verifies them with the same secret.
const auth = new Auth({ secret: SECRET, ttlSeconds: 3600 });
const client = createClient<AgentRegistry>(url);
const model = new StandInModel({ tokensPerSecond: TPS });

type Conn = ReturnType<ReturnType<typeof client.agent.get>["connect"]>;
interface Conversation {
  userId: string;
  id: string;
  conn: Conn;
  tokens: TokenEvent[];
  updates: ChatMessage[];
  /** Each message's text as this client follows it (src/stream.ts, as the web UI does). */
  followed: Map<string, FollowedStream>;
  /** Times the connection came back (the server drops one that misses its pings). */
  reconnects: number;
  /** `readStream` calls that filled a gap (tokens sent while the connection was away). */
  gapsFilled: number;
}

let userSeq = 0;
async function conversation(): Promise<Conversation> {
  const userId = `bench-${++userSeq}`;
  const token = await auth.sign({ id: userId, name: userId, org: "bench" });
  const { id } = await client.agentList
    .getOrCreate([userId], { params: { token } })
    .createConversation();
  const conn = client.agent.get([userId, id], { params: { token } }).connect();
  const c: Conversation = {
    userId,
    id,
    conn,
    tokens: [],
    updates: [],
    followed: new Map(),
    reconnects: 0,
    gapsFilled: 0,
  };
  const follow = (messageId: string) => c.followed.get(messageId) ?? emptyStream(messageId);
  const fill = (messageId: string) => {
    c.gapsFilled++;
    conn
      .readStream(messageId, follow(messageId).text.length)
      .then((chunk) => c.followed.set(messageId, applyChunk(follow(messageId), chunk)))
      .catch(() => {});
  };
  conn.on("token", (t) => {
    c.tokens.push(t);
    const r = applyToken(follow(t.messageId), t);
    c.followed.set(t.messageId, r.stream);
    if (r.gap) fill(t.messageId);
  });
  conn.on("messageUpdated", (m) => c.updates.push(m));
  let opened = false;
  await new Promise<void>((resolve) =>
    conn.onOpen(() => {
      if (!opened) {
        opened = true;
        resolve();
        return;
      }
      // Back after a drop: as the web UI does, take the snapshot (statuses it missed) and
      // the text of every message it follows from its position.
      c.reconnects++;
      conn
        .getConversation()
        .then((view) => {
          for (const m of view.messages) {
            if (m.role !== "assistant") continue;
            c.updates.push(m);
            const before = follow(m.id);
            const after = applyChunk(before, {
              messageId: m.id,
              from: 0,
              text: m.text,
              end: m.text.length,
              status: m.status,
            });
            if (after.text !== before.text) c.gapsFilled++;
            c.followed.set(m.id, after);
          }
        })
        .catch(() => {});
    }),
  );
  return c;
}

/** A connection the server dropped (missed pings) while a call was on it. */
const lost = (err: unknown) => (err as { code?: string }).code === "connection_lost";
let retried = 0;

/**
 * `send` as a careful client does it: if the connection drops while the call is on it (the
 * server cuts a client that misses its pings, as a starved bench process can), it waits for the
 * connection to come back and looks whether the prompt was taken before sending it again.
 */
async function sendPrompt(c: Conversation, prompt: string): Promise<{ messageId: string }> {
  const since = Date.now();
  for (;;) {
    try {
      return await c.conn.send(prompt);
    } catch (err) {
      if (!lost(err)) throw err;
      retried++;
      await until(() => c.conn.status === "connected");
      const view = await c.conn.getConversation();
      const asked = view.messages.findLast(
        (m) => m.role === "user" && m.text === prompt && m.createdAt >= since - 1000,
      );
      const answer = asked && view.messages.find((m) => m.seq === asked.seq + 1);
      if (answer) return { messageId: answer.id };
    }
  }
}

/** `cancel`, again after a dropped connection (a second cancel of the same answer is a no-op). */
async function cancelAnswer(c: Conversation): Promise<void> {
  for (;;) {
    try {
      await c.conn.cancel();
      return;
    } catch (err) {
      if (!lost(err)) throw err;
      retried++;
      await until(() => c.conn.status === "connected");
    }
  }
}

/** Resolves once `check()` holds; polls often, so the poll adds little to what is measured. */
function until(check: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error("bench: timed out"));
      else setTimeout(tick, 1);
    };
    tick();
  });
}

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}
const ms = (v: number) => `${v.toFixed(1)} ms`;

/** The server's event loop over a window (a saturated loop delays every Stop by its lag). */
function loopLine(r: Extract<ServerReply, { type: "report" }>, clients: Lag): string {
  return (
    `event loop: server busy ${(r.loopBusy * 100).toFixed(0)}%, delay p50 ${ms(r.loopDelay.p50)}, ` +
    `p99 ${ms(r.loopDelay.p99)}, max ${ms(r.loopDelay.max)}; clients' delay p50 ${ms(clients.p50)}, ` +
    `p99 ${ms(clients.p99)}`
  );
}

/** This process's event-loop delay over a window: a late client adds to what it measures. */
interface Lag {
  p50: number;
  p99: number;
}
function clientLag(): () => Lag {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  // The histogram holds whole sampling intervals: the delay is what exceeds the interval.
  const delay = (ns: number) => Math.max(0, ns / 1e6 - 5);
  return () => {
    h.disable();
    return { p50: delay(h.percentile(50)), p99: delay(h.percentile(99)) };
  };
}

const expectedText = (n: number) => Array.from({ length: n }, (_, i) => i + 1).join(" ");

console.log(
  `ai-agent bench: ${CONVERSATIONS} conversations, stand-in at ${TPS} tokens/s, ${TOKENS} tokens each; ` +
    `server in its own process (pid ${child.pid}), clients in this one`,
);
const convs: Conversation[] = [];
for (let i = 0; i < CONVERSATIONS; i += 20) {
  convs.push(
    ...(await Promise.all(
      Array.from({ length: Math.min(20, CONVERSATIONS - i) }, () => conversation()),
    )),
  );
}

// ---- 1. streaming ------------------------------------------------------------------------
if (PARTS.has("stream")) {
  // The same load on the model alone (streamText in this process, no actor, no socket): what
  // the SDK and the stand-in cost, to read the actor's figure against.
  const aloneCpu = process.cpuUsage();
  const aloneStarted = performance.now();
  const counts = await Promise.all(
    convs.map(async () => {
      let n = 0;
      const r = streamText({ model, prompt: `count to ${TOKENS}` });
      for await (const part of r.fullStream) if (part.type === "text-delta") n++;
      return n;
    }),
  );
  const aloneElapsed = (performance.now() - aloneStarted) / 1000;
  const aloneEvents = counts.reduce((a, b) => a + b, 0);
  const aloneUsed = process.cpuUsage(aloneCpu);
  console.log(
    `  model alone (streamText in this process, no actor): ${aloneEvents} text deltas in ${aloneElapsed.toFixed(2)} s = ` +
      `${(aloneEvents / aloneElapsed).toFixed(0)}/s, ${((aloneUsed.user + aloneUsed.system) / aloneEvents).toFixed(0)} µs of CPU each`,
  );

  const clientCpu = process.cpuUsage();
  await ask(child, "measure", "measure-started");
  const lag = clientLag();
  const started = performance.now();
  const sent = await Promise.all(convs.map((c) => sendPrompt(c, `count to ${TOKENS}`)));
  await until(() =>
    convs.every((c, i) =>
      c.updates.some((m) => m.id === sent[i]!.messageId && m.status === "complete"),
    ),
  );
  const elapsed = (performance.now() - started) / 1000;
  const report = await ask(child, "report", "report");
  const clientsLag = lag();
  const clientUsed = process.cpuUsage(clientCpu);
  // Every answer must end exactly the expected text as the client followed it. Token events
  // must be in order (each starting where the previous ended); a connection the server dropped
  // (missed pings on a starved machine) loses the tokens sent meanwhile, and the client fills
  // that gap with readStream as the web UI does: counted apart.
  let delivered = 0;
  let inOrder = 0;
  let exact = 0;
  let dropped = 0;
  let outOfOrder = 0;
  await until(
    () => convs.every((c, i) => c.followed.get(sent[i]!.messageId)?.text === expectedText(TOKENS)),
    10_000,
  ).catch(() => {});
  for (const [i, c] of convs.entries()) {
    const messageId = sent[i]!.messageId;
    const mine = c.tokens.filter((t) => t.messageId === messageId);
    delivered += mine.length;
    let pos = 0;
    let ok = true;
    for (const t of mine) {
      if (t.start < pos) outOfOrder++;
      if (t.start !== pos) ok = false;
      pos = t.start + t.delta.length;
    }
    if (ok && mine.map((t) => t.delta).join("") === expectedText(TOKENS)) inOrder++;
    if (c.followed.get(messageId)?.text === expectedText(TOKENS)) exact++;
    if (c.reconnects > 0) dropped++;
  }
  const allGood = exact === CONVERSATIONS && outOfOrder === 0;
  console.log(
    `  streaming: ${delivered} token events in ${elapsed.toFixed(2)} s = ${(delivered / elapsed).toFixed(0)} events/s ` +
      `(the model's own pace: ${CONVERSATIONS * TPS}/s)`,
  );
  console.log(
    `  every token delivered in order: ${allGood ? "yes" : "NO"} (${exact}/${CONVERSATIONS} answers exact at the client, ` +
      `${outOfOrder} token events out of order; ${inOrder}/${CONVERSATIONS} with every token event on the live connection, ` +
      `${dropped} connections dropped by the ping check and back, ${convs.reduce((n, c) => n + c.gapsFilled, 0)} gaps filled by readStream)`,
  );
  const serverCpuUs = (report.cpuPercent / 100) * report.wallMs * 1000;
  console.log(
    `  CPU over that window: server ${report.cpuPercent.toFixed(0)}% of a core (${(serverCpuUs / delivered).toFixed(0)} µs per token event delivered), ` +
      `clients ${(((clientUsed.user + clientUsed.system) / 1000 / (elapsed * 1000)) * 100).toFixed(0)}%; ${loopLine(report, clientsLag)}`,
  );
}

// ---- 2. time to first token ------------------------------------------------------------
if (PARTS.has("ttft")) {
  // What the streaming left behind (outbox flushes to SQL, state saves, usage records) settles
  // first, so these rounds run with nothing else on the server.
  await new Promise((r) => setTimeout(r, 3000));
  const probe = convs[0]!;
  const direct: number[] = [];
  const viaActor: number[] = [];
  const added: number[] = [];
  const replies: number[] = [];
  const trips: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // The floor of any server round trip here: an action that does nothing (cancel with
    // nothing running), on the same connection.
    const tr = performance.now();
    await cancelAnswer(probe);
    trips.push(performance.now() - tr);
    const t0 = performance.now();
    const result = streamText({ model, prompt: "count to 3" });
    for await (const part of result.fullStream) {
      if (part.type === "text-delta") break;
    }
    const d = performance.now() - t0;
    direct.push(d);
    const before = probe.tokens.length;
    const t1 = performance.now();
    // The first token is what a person waits for: the event, whenever `send`'s reply comes
    // (the reply waits for the durable write of the prompt; the answer does not).
    const reply = sendPrompt(probe, "count to 3").then((r) => {
      replies.push(performance.now() - t1);
      return r;
    });
    await until(() => probe.tokens.length > before);
    const a = performance.now() - t1;
    viaActor.push(a);
    added.push(a - d);
    const { messageId } = await reply;
    await until(() => probe.updates.some((m) => m.id === messageId && m.status === "complete"));
  }
  console.log(
    `  time to first token over ${ROUNDS} interleaved rounds (one conversation, nothing else running): ` +
      `model directly p50 ${ms(pct(direct, 50))}, through the actor p50 ${ms(pct(viaActor, 50))}; ` +
      `added by the actor p50 ${ms(pct(added, 50))}, p99 ${ms(pct(added, 99))} ` +
      `(a no-op action's round trip p50 ${ms(pct(trips, 50))}, p99 ${ms(pct(trips, 99))}; ` +
      `send's reply, after the durable write: p50 ${ms(pct(replies, 50))})`,
  );
}

// ---- 3. cancel latency under load ------------------------------------------------------
if (PARTS.has("cancel")) {
  await ask(child, "measure", "measure-started");
  const lag = clientLag();
  const sentAt = performance.now();
  const longRun = await Promise.all(convs.map((c) => sendPrompt(c, `count to ${TOKENS * 10}`)));
  const latencies: number[] = [];
  // Where a slow Stop comes from: how far the stream at the client was behind the model's pace
  // when Stop was pressed (a saturated server), and the tokens that arrived between Stop and
  // the end (those already on their way, or made before the cancel was read).
  const behind: number[] = [];
  const between: number[] = [];
  const replies: number[] = [];
  let tokensAfterCancelReply = 0;
  await Promise.all(
    convs.map(async (c, i) => {
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 2000));
      const messageId = longRun[i]!.messageId;
      const t0 = performance.now();
      const mine = () => c.tokens.filter((t) => t.messageId === messageId).length;
      const atCancel = mine();
      behind.push(Math.max(0, ((t0 - sentAt) / 1000) * TPS - atCancel));
      const reply = cancelAnswer(c);
      await until(() => c.updates.some((m) => m.id === messageId && m.status === "stopped"));
      const ended = performance.now();
      between.push(mine() - atCancel);
      await reply;
      replies.push(performance.now() - t0);
      latencies.push(ended - t0);
      const atReply = c.tokens.length;
      // One round trip later, any token sent before the reply would have arrived.
      await c.conn.getConversation();
      tokensAfterCancelReply += c.tokens.length - atReply;
    }),
  );
  const report = await ask(child, "report", "report");
  const clientsLag = lag();
  console.log(
    `  cancel sent → stream ended at the client, ${CONVERSATIONS} streaming: p50 ${ms(pct(latencies, 50))}, ` +
      `p99 ${ms(pct(latencies, 99))}, max ${ms(Math.max(...latencies))} (cancel reply p50 ${ms(pct(replies, 50))}, ` +
      `p99 ${ms(pct(replies, 99))}); tokens after a cancel reply: ${tokensAfterCancelReply}`,
  );
  console.log(
    `    at Stop the client was behind the model's pace by p50 ${pct(behind, 50).toFixed(0)}, p99 ${pct(behind, 99).toFixed(0)} tokens; ` +
      `tokens between Stop and the end p50 ${pct(between, 50)}, p99 ${pct(between, 99)}`,
  );
  console.log(`    over the cancel window, ${loopLine(report, clientsLag)}`);
}
await Promise.all(convs.map((c) => c.conn.dispose()));

// ---- 4. memory per idle conversation -----------------------------------------------------
if (PARTS.has("memory")) {
  const heapBefore = (await ask(child, "heap", "heap")).heapUsed;
  const idle: Conversation[] = [];
  for (let i = 0; i < IDLE; i += 20) {
    idle.push(
      ...(await Promise.all(Array.from({ length: Math.min(20, IDLE - i) }, () => conversation()))),
    );
  }
  const answers = await Promise.all(idle.map((c) => sendPrompt(c, "what is 6 * 7")));
  await until(() =>
    idle.every((c, i) =>
      c.updates.some((m) => m.id === answers[i]!.messageId && m.status === "complete"),
    ),
  );
  await Promise.all(idle.map((c) => c.conn.dispose()));
  await new Promise((r) => setTimeout(r, 1000));
  const perConversation = ((await ask(child, "heap", "heap")).heapUsed - heapBefore) / IDLE;
  console.log(
    `  memory per idle conversation (awake, one exchange, its list too): ${(perConversation / 1024).toFixed(1)} KiB of the server's heap`,
  );
}

const log = await ask(child, "log", "log");
const reconnects = convs.reduce((n, c) => n + c.reconnects, 0);
console.log(
  `  connections dropped by the server's ping check and back: ${reconnects}; calls made again after one: ${retried}`,
);
console.log(
  `  server log: ${log.warnings} warnings, ${log.errors} errors${log.first.length ? ` (${log.first.join("; ")}; all in ${log.path})` : ""}`,
);
console.log(
  `  machine load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after (${availableParallelism()} cores)`,
);
await client.dispose();
await new Promise<void>((resolve) => {
  child.once("exit", () => resolve());
  child.kill("SIGTERM");
});
await scratch.drop();
