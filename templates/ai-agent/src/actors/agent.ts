/**
 * `agent`, keyed `[userId, conversationId]`: one conversation, its live owner.
 *
 * - **One generation at a time.** A prompt sent while an answer is being generated is refused
 *   with `generation_in_progress` (and while a tool waits for approval, `approval_pending`):
 *   the person sees the answer in progress and can Stop it; a hidden queue would answer a
 *   prompt they may no longer want.
 * - **Streaming with positions.** Every text delta goes to every connection as `token`
 *   `{ messageId, start, delta }`, where `start` is the delta's offset in the message text. A
 *   client that (re)connects subscribes, then asks `readStream(messageId, from)` for what it
 *   missed, and applies later tokens from its position on (`src/stream.ts`): no gap, no double.
 * - **Bounded saves.** The text so far lives in `vars` and is copied into state at most every
 *   `SAVE_INTERVAL_MS`, not a durable write per token. A crash mid-answer leaves the text of the
 *   last save, and the next wake marks that message "interrupted".
 * - **Cancel.** `cancel()` aborts the model call and any tool in flight through an
 *   `AbortController` chained to `c.abortSignal` (so sleep and shutdown stop it too, as
 *   "interrupted"), waits until the generation has ended, then replies: no token follows it.
 *   The tools get the same signal (`execute(args, { abortSignal })`) and change nothing once it
 *   has fired (tools/index.ts); the answer's end waits for a tool still running to give up
 *   (`TOOL_STOP_WAIT_MS` at most), so after the reply no note or reminder of it appears, and
 *   its card says what happened: "Stopped before it finished", or its result if the change had
 *   already landed when Stop came.
 * - **Approvals.** `deleteNote` needs approval: the SDK ends the step with an approval request,
 *   kept in state (`approval`), so it survives restarts; `approve` / `deny` add the answer to the
 *   model history and the same assistant message goes on streaming.
 * - **Reminders.** `remindMe` stores the reminder and a `c.schedule.at` alarm; the alarm adds a
 *   "reminder" message (once: a replayed alarm finds it delivered).
 * - **SQL.** Every message and tool call is queued in this actor's outbox (`troupe/outbox`).
 */
import { randomUUID } from "node:crypto";
import {
  type ModelMessage,
  stepCountIs,
  streamText,
  type Tool,
  type ToolExecutionOptions,
  type ToolSet,
  wrapLanguageModel,
} from "ai";
import type { ActorContext, ActorDefinition, Registry } from "troupe";
import { actor, event, Forbidden, UserError } from "troupe";
import {
  clearAllTokenExpiries,
  type TokenTimers,
  unwatchConnection,
  watchConnection,
} from "troupe/accounts";
import { ActorError } from "troupe/client";
import { enqueue, OutboxFlusher } from "troupe/outbox";
import { z } from "zod";
import {
  type AgentOutboxEntry,
  type AgentOutboxState,
  type OutboxWriter,
  writeBatch,
} from "../db/outbox.js";
import { createTools, type ToolHost } from "../tools/index.js";
import {
  answerApproval as answerPending,
  canMove,
  type PendingApproval,
  requestApproval,
  stopApproval,
  type ToolCallStatus,
} from "./approval.js";
import {
  type AgentConnParams,
  type AgentConnState,
  type AgentServices,
  assertInternal,
  connStateOf,
  type Identity,
  MAX_MESSAGES_IN_STATE,
  MAX_PENDING_REMINDERS,
  MAX_PROMPT_CHARS,
  MAX_STEPS,
  MODEL_STALL_TIMEOUT_MS,
  SAVE_INTERVAL_MS,
  TOOL_STOP_WAIT_MS,
  TURN_BUDGET_MS,
  userOf,
  verifyToken,
} from "./services.js";
import { gateStream, TurnBudget } from "./turns.js";

/** While the outbox is not empty, an alarm checks it this often (so it drains across sleeps). */
const OUTBOX_CHECK_MS = 30_000;
/** Model messages kept as context for the next answer. */
const MAX_HISTORY = 200;

const SYSTEM_PROMPT =
  "You are a helpful assistant. Use the tools for arithmetic, the user's notes and reminders.";

export type MessageStatus =
  | "streaming"
  | "awaiting_approval"
  | "complete"
  | "stopped"
  | "interrupted"
  | "error";

export interface ToolCallView {
  id: string;
  name: string;
  args: unknown;
  status: ToolCallStatus;
  result?: unknown;
  error?: string;
  /**
   * Where the model made the call in the message's text (its length then): what it said before
   * the call reads above the card, what it said once the call ran (an approved delete's outcome)
   * below it. Absent in messages stored before it existed: the cards come first.
   */
  textAt?: number;
  createdAt: number;
  version: number;
}

export interface ChatMessage {
  id: string;
  seq: number;
  role: "user" | "assistant" | "reminder";
  text: string;
  status: MessageStatus;
  error?: string;
  toolCalls: ToolCallView[];
  usage: { inputTokens: number; outputTokens: number };
  createdAt: number;
  version: number;
}

export type { PendingApproval, ToolCallStatus } from "./approval.js";

export interface Reminder {
  text: string;
  at: number;
  delivered: boolean;
}

export interface AgentState extends AgentOutboxState {
  title: string;
  createdAt: number;
  lastActivityAt: number;
  seq: number;
  messages: ChatMessage[];
  /** What the model sees next time: ModelMessages as plain JSON. */
  history: unknown[];
  /** The message being generated (also after a crash, until the next wake). */
  generation: { messageId: string; startedAt: number } | null;
  approval: PendingApproval | null;
  reminders: Record<string, Reminder>;
  usage: { inputTokens: number; outputTokens: number };
}

export interface LiveGeneration {
  messageId: string;
  controller: AbortController;
  /** The whole text of the message so far (state has it as of the last save). */
  text: string;
  lastSavedAt: number;
  done: Promise<void>;
  /** Every tool run of this generation, by tool call id: how each one ended. */
  tools: Map<string, ToolRun>;
}

/** A tool's execution, as the generation tracks it (to wait for it after a Stop). */
export interface ToolRun {
  name: string;
  input: unknown;
  outcome: Promise<{ ok: true; output: unknown } | { ok: false }>;
}

export interface AgentVars {
  gen: LiveGeneration | undefined;
  /** A send or approval between its checks and the start of its generation. */
  starting: boolean;
  flusher: OutboxFlusher<AgentOutboxEntry> | undefined;
  /** Closes each user connection when its token expires, by connection id. */
  tokenTimers: TokenTimers;
}

export interface TokenEvent {
  messageId: string;
  /** Offset of `delta` in the message's text. */
  start: number;
  delta: string;
}

export interface StreamChunk {
  messageId: string;
  from: number;
  text: string;
  /** Length of the text so far: the position after `text`. */
  end: number;
  status: MessageStatus;
}

export interface ConversationView {
  conversationId: string;
  title: string;
  model: string;
  messages: ChatMessage[];
  approval: PendingApproval | null;
  generating: string | null;
  usage: { inputTokens: number; outputTokens: number };
}

export interface AgentInput {
  title?: string;
}

/** Why a generation was aborted: the user's Stop, the model hanging, or the actor stopping. */
class StoppedByUser extends Error {
  constructor() {
    super("Stopped by the user.");
  }
}
class ModelStalled extends Error {
  constructor(ms: number) {
    super(`The model stopped answering (nothing for ${Math.round(ms / 1000)} s).`);
  }
}

const promptArg = (max: number) =>
  z
    .string({ error: "A prompt is text." })
    .refine((s) => s.trim().length > 0, "Write something first: the prompt is empty.")
    .refine((s) => s.length <= max, `A prompt is at most ${max} characters.`)
    .transform((s) => s.replaceAll("\u0000", ""));
const idArg = z.string().min(1).max(200);
const positionArg = z.number().int().min(0);

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new UserError(r.error.issues[0]?.message ?? "Invalid input.", { code: "invalid_input" });
  }
  return r.data;
}

/** The list as the agent sees it: the internal actions it calls. */
type ListView = Registry<{
  agentList: ActorDefinition<
    any,
    AgentConnParams,
    any,
    any,
    any,
    {
      checkBudget: (c: any) => { left: number };
      recordUsage: (
        c: any,
        u: { conversationId: string; inputTokens: number; outputTokens: number },
      ) => unknown;
      conversationActivity: (
        c: any,
        a: { conversationId: string; title: string; lastActivityAt: number },
      ) => unknown;
    }
  >;
}>;

type AgentCtx = ActorContext<AgentState, AgentConnParams, AgentConnState, AgentVars, AgentInput>;

export function createAgent(
  services: AgentServices,
  internalKey: string,
  writeOutbox: OutboxWriter = (batch) => writeBatch(services.db, batch),
) {
  const saveIntervalMs = services.saveIntervalMs ?? SAVE_INTERVAL_MS;
  const stallTimeoutMs = services.stallTimeoutMs ?? MODEL_STALL_TIMEOUT_MS;
  const prompt = promptArg(services.maxPromptChars ?? MAX_PROMPT_CHARS);
  /** One for every conversation of this registry: they share the process's event loop. */
  const turns = new TurnBudget(services.turnBudgetMs ?? TURN_BUDGET_MS);
  // Each part of the model's stream waits for its slice of the loop turn (turns.ts), so a Stop
  // is read between slices instead of after every stream's backlog.
  const model = wrapLanguageModel({
    model: services.model,
    middleware: {
      specificationVersion: "v3",
      wrapStream: async ({ doStream, params }) => {
        const result = await doStream();
        return { ...result, stream: gateStream(result.stream, turns, params.abortSignal) };
      },
    },
  });

  return actor({
    events: {
      message: event<ChatMessage>(),
      token: event<TokenEvent>(),
      messageUpdated: event<ChatMessage>(),
      approvalRequested: event<PendingApproval>(),
      /** The title changed (it is taken from the first prompt): every open tab shows it. */
      titleChanged: event<{ title: string }>(),
    },
    createState: (_c: unknown, input: AgentInput | undefined): AgentState => {
      const now = Date.now();
      return {
        title: (input?.title ?? "").trim().slice(0, 80) || "New conversation",
        createdAt: now,
        lastActivityAt: now,
        seq: 0,
        messages: [],
        history: [],
        generation: null,
        approval: null,
        reminders: {},
        usage: { inputTokens: 0, outputTokens: 0 },
        outbox: [],
        outboxSeq: 0,
      };
    },
    createVars: (): AgentVars => ({
      gen: undefined,
      starting: false,
      flusher: undefined,
      tokenTimers: new Map(),
    }),

    /**
     * Conversations are created by the user's `agentList` (`createConversation`), in-process,
     * which skips this hook. Any other creation, by anyone, is refused: a conversation made
     * beside the list would escape its budget and listing.
     */
    onBeforeCreate: async (_c, { key, params }) => {
      const p = params as AgentConnParams | undefined;
      if (p?.internal !== undefined && p.internal === internalKey) return;
      if (p?.token !== undefined) {
        const user = await verifyToken(services, p.token);
        if (key[0] !== user.userId) {
          throw new Forbidden("These conversations belong to someone else.");
        }
      }
      throw new Forbidden("Start a conversation with agentList.createConversation.", {
        code: "create_through_list",
      });
    },

    createConnState: (c, params: AgentConnParams | undefined): Promise<AgentConnState> =>
      connStateOf(services, internalKey, params, c.key),

    onCreate: (c) => {
      enqueue(c.state, { kind: "conversation", row: conversationRow(c as any) });
    },

    onWake: (c) => {
      const ctx = c as unknown as AgentCtx;
      // A generation in state but none running: the process died mid-answer.
      const crashed = ctx.state.generation;
      if (crashed) {
        const msg = messageById(ctx, crashed.messageId);
        if (msg && msg.status === "streaming") {
          msg.status = "interrupted";
          for (const call of msg.toolCalls) {
            if (call.status === "running") {
              call.status = "error";
              call.error = "The server stopped while this tool ran.";
              call.version += 1;
              enqueueToolCall(ctx, msg, call);
            }
          }
          closeHistory(ctx, msg.text);
          touch(ctx, msg);
        }
        ctx.state.generation = null;
        saveSoon(ctx);
      }
      ctx.vars.flusher = new OutboxFlusher<AgentOutboxEntry>({
        get state() {
          return ctx.state;
        },
        write: writeOutbox,
        keepAwake: (p) => ctx.waitUntil(p),
        log: ctx.log,
      });
      ctx.vars.flusher.kick(0);
    },

    onConnect: (c, conn) => {
      watchConnection(c.vars.tokenTimers, services.auth.revocations, conn);
    },
    onDisconnect: (c, conn) => {
      unwatchConnection(c.vars.tokenTimers, services.auth.revocations, conn);
    },

    onSleep: async (c) => {
      const ctx = c as unknown as AgentCtx;
      clearAllTokenExpiries(ctx.vars.tokenTimers);
      // c.abortSignal has fired: a running generation is ending as "interrupted".
      await ctx.vars.gen?.done;
      const flusher = ctx.vars.flusher;
      if (flusher) {
        await Promise.race([flusher.flushNow(), new Promise((r) => setTimeout(r, 2000))]);
        flusher.stop();
      }
    },

    actions: {
      /** The conversation as it is now, live text included. */
      getConversation: (c): ConversationView => {
        userOrInternal(c.conn);
        const ctx = c as unknown as AgentCtx;
        return {
          conversationId: c.key[1]!,
          title: c.state.title,
          model: services.modelLabel,
          messages: c.state.messages.map((m) => withLiveText(ctx, m)),
          approval: c.state.approval ? { ...c.state.approval } : null,
          generating: c.vars.gen?.messageId ?? null,
          usage: { ...c.state.usage },
        };
      },

      /**
       * Sends a prompt; the answer streams as `token` events. Replies at once with the ids of
       * the user message and of the assistant message that is starting.
       */
      send: async (c, text: string) => {
        userOf(c.conn);
        const ctx = c as unknown as AgentCtx;
        const value = parse(prompt, text);
        assertIdle(ctx);
        ctx.vars.starting = true;
        try {
          await listHandle(ctx)
            .checkBudget()
            .catch((err: unknown) => {
              // The list's refusal reaches the caller as it is (not as an internal error).
              if (err instanceof ActorError && err.code === "budget_exhausted") {
                throw new UserError(err.message, { code: err.code, metadata: err.metadata });
              }
              throw err;
            });
          assertIdle(ctx, true);
          const now = Date.now();
          const userMsg = addMessage(ctx, "user", value, "complete", now);
          const titled = c.state.messages.length === 1 && c.state.title === "New conversation";
          if (titled) c.state.title = value.trim().replace(/\s+/g, " ").slice(0, 60);
          pushHistory(ctx, { role: "user", content: value });
          const assistant = addMessage(ctx, "assistant", "", "streaming", now);
          startGeneration(ctx, assistant.id);
          if (titled) {
            // Now, not when the answer ends: the other tabs and the user's list show it.
            c.broadcast("titleChanged", { title: c.state.title });
            reportActivity(ctx);
          }
          return { userMessageId: userMsg.id, messageId: assistant.id };
        } finally {
          ctx.vars.starting = false;
        }
      },

      /**
       * Stops the answer in progress (its text so far stays, marked "stopped"), or the tool
       * waiting for approval. Replies after the generation has ended.
       */
      cancel: async (c) => {
        userOf(c.conn);
        const ctx = c as unknown as AgentCtx;
        const gen = ctx.vars.gen;
        if (gen) {
          gen.controller.abort(new StoppedByUser());
          await gen.done;
          return { cancelled: true as const, messageId: gen.messageId };
        }
        const stopped = stopApproval(c.state, "The user stopped the answer.");
        if (stopped) {
          const { approval } = stopped;
          const msg = messageById(ctx, approval.messageId);
          pushHistory(ctx, stopped.history);
          if (msg) {
            setToolCall(ctx, msg, approval.toolCallId, { status: stopped.toolStatus });
            msg.status = "stopped";
            touch(ctx, msg);
          }
          return { cancelled: true as const, messageId: approval.messageId };
        }
        return { cancelled: false as const, reason: "Nothing is being generated." };
      },

      /** What the client missed of a message's text from position `from` on. */
      readStream: (c, messageId: string, from: number): StreamChunk => {
        userOrInternal(c.conn);
        const ctx = c as unknown as AgentCtx;
        const id = parse(idArg, messageId);
        const pos = parse(positionArg, from);
        const msg = messageById(ctx, id);
        if (!msg) {
          throw new UserError("There is no such message in this conversation.", {
            code: "message_not_found",
          });
        }
        const text = liveText(ctx, msg);
        const start = Math.min(pos, text.length);
        return {
          messageId: id,
          from: start,
          text: text.slice(start),
          end: text.length,
          status: msg.status,
        };
      },

      approve: (c, approvalId: string) => answerApproval(c as any, approvalId, true),
      deny: (c, approvalId: string) => answerApproval(c as any, approvalId, false),

      /** Alarm: a reminder is due. Delivered once, also when the alarm runs again. */
      deliverReminder: (c, id: string) => {
        assertInternal(c.conn);
        const ctx = c as unknown as AgentCtx;
        const reminder = c.state.reminders[id];
        if (!reminder || reminder.delivered) return { delivered: false };
        reminder.delivered = true;
        addMessage(ctx, "reminder", `Reminder: ${reminder.text}`, "complete", Date.now());
        pushHistory(ctx, { role: "assistant", content: `Reminder: ${reminder.text}` });
        reportActivity(ctx);
        // Delivered reminders are dropped after a while so the record stays small.
        for (const [rid, r] of Object.entries(c.state.reminders)) {
          if (r.delivered && r.at < Date.now() - 24 * 3600_000) delete c.state.reminders[rid];
        }
        return { delivered: true };
      },

      /** Alarm: drains the outbox while it is not empty. */
      flushOutbox: async (c) => {
        assertInternal(c.conn);
        await c.vars.flusher?.flushNow();
        await ensureOutboxAlarm(c as unknown as AgentCtx);
        return { pending: c.state.outbox.length };
      },
    },
  });

  function assertIdle(c: AgentCtx, afterCheck = false): void {
    if (c.vars.gen || (!afterCheck && c.vars.starting)) {
      throw new UserError("An answer is being generated: wait for it, or stop it first.", {
        code: "generation_in_progress",
      });
    }
    if (c.state.approval) {
      throw new UserError("A tool is waiting for your approval: approve or deny it first.", {
        code: "approval_pending",
        metadata: { approvalId: c.state.approval.approvalId },
      });
    }
  }

  function answerApproval(c: AgentCtx & { conn: any }, approvalId: string, approved: boolean) {
    userOf(c.conn);
    const id = parse(idArg, approvalId);
    const outcome = answerPending(c.state, id, approved, !!(c.vars.gen || c.vars.starting));
    const { approval } = outcome;
    const msg = messageById(c, approval.messageId);
    pushHistory(c, outcome.history);
    if (!msg) return { approved, messageId: approval.messageId };
    setToolCall(c, msg, approval.toolCallId, { status: outcome.toolStatus });
    msg.status = "streaming";
    touch(c, msg);
    startGeneration(c, msg.id);
    return { approved, messageId: msg.id };
  }

  function startGeneration(c: AgentCtx, messageId: string): void {
    const msg = messageById(c, messageId)!;
    const controller = new AbortController();
    const onActorStop = () => controller.abort(c.abortSignal.reason);
    c.abortSignal.addEventListener("abort", onActorStop, { once: true });
    const gen: LiveGeneration = {
      messageId,
      controller,
      text: msg.text,
      lastSavedAt: Date.now(),
      done: Promise.resolve(),
      tools: new Map(),
    };
    c.vars.gen = gen;
    c.state.generation = { messageId, startedAt: Date.now() };
    gen.done = runGeneration(c, gen).finally(() => {
      c.abortSignal.removeEventListener("abort", onActorStop);
      if (c.vars.gen === gen) c.vars.gen = undefined;
    });
    c.waitUntil(gen.done);
  }

  async function runGeneration(c: AgentCtx, gen: LiveGeneration): Promise<void> {
    const signal = gen.controller.signal;
    const host: ToolHost = {
      db: services.db,
      userId: c.key[0]!,
      now: () => Date.now(),
      beforeCommit: services.beforeToolCommit,
      scheduleReminder: async (text, at, toolSignal) => {
        toolSignal?.throwIfAborted();
        const pending = Object.values(c.state.reminders).filter((r) => !r.delivered).length;
        if (pending >= MAX_PENDING_REMINDERS) {
          throw new Error(
            `A conversation can have at most ${MAX_PENDING_REMINDERS} reminders waiting.`,
          );
        }
        const id = randomUUID();
        c.state.reminders[id] = { text, at, delivered: false };
        const alarmId = await c.schedule.at(at, "deliverReminder", id);
        if (toolSignal?.aborted) {
          // Stopped while the alarm was being stored: taken back before the answer ends.
          c.schedule.cancel(alarmId);
          delete c.state.reminders[id];
          toolSignal.throwIfAborted();
        }
        return id;
      },
    };
    let errorText: string | undefined;
    let inputTokens = 0;
    let outputTokens = 0;
    // Text deltas of the step in progress: a step that never finishes (Stop, the actor
    // stopping, a stall) has no usage from the model, so its output is counted as one token per
    // delta (what providers stream; exactly the stand-in's words). Its input is not known.
    let unfinishedStepOutput = 0;
    let stallTimer: ReturnType<typeof setTimeout> | undefined;
    // Re-armed on every part: `refresh()` moves the same timer on, where a new one per token
    // would allocate and cancel thousands of timers a second on a busy server.
    const armStallTimer = () => {
      if (stallTimer) stallTimer.refresh();
      else {
        stallTimer = setTimeout(
          () => gen.controller.abort(new ModelStalled(stallTimeoutMs)),
          stallTimeoutMs,
        );
      }
    };
    // The answer's messages for the history, handed over when the SDK finishes (before the
    // stream ends). Not `await result.response`: that getter tees the stream again and reads
    // every part of the answer a second time through the SDK's web streams.
    let responseMessages: ModelMessage[] | undefined;
    // The stream is read in its own task, and an abort ends the wait at once: how long the
    // SDK takes to tear its streams down is never part of Stop's latency.
    const consume = async () => {
      // Starting a call costs the SDK about a token's worth of work: many prompts at once
      // (a server's restart, a burst) start in slices too.
      const turn = turns.take();
      if (turn) await turn;
      if (signal.aborted) return;
      const result = streamText({
        model,
        system: SYSTEM_PROMPT,
        messages: jsonSafe(c.state.history) as ModelMessage[],
        tools: trackTools(createTools(host), gen.tools),
        stopWhen: stepCountIs(MAX_STEPS),
        abortSignal: signal,
        // Errors arrive as stream parts below; the default would print them.
        onError: () => {},
        onFinish: (event) => {
          responseMessages = event.response.messages;
        },
      });
      armStallTimer();
      const parts = result.fullStream[Symbol.asyncIterator]();
      try {
        for (;;) {
          const next = await parts.next();
          if (next.done) break;
          const part = next.value;
          // After an abort the rest is drained unread (the stream ends by itself).
          if (signal.aborted) continue;
          armStallTimer();
          const msg = messageById(c, gen.messageId);
          if (!msg) continue;
          switch (part.type) {
            case "text-delta":
              appendText(c, gen, msg, part.text);
              unfinishedStepOutput += 1;
              break;
            case "tool-call":
              setToolCall(c, msg, part.toolCallId, {
                name: part.toolName,
                args: part.input,
                status: "running",
              });
              break;
            case "tool-result":
              setToolCall(c, msg, part.toolCallId, {
                name: part.toolName,
                status: "done",
                result: part.output,
              });
              break;
            case "tool-error":
              setToolCall(c, msg, part.toolCallId, {
                name: part.toolName,
                args: part.input,
                status: "error",
                error: describeError(part.error),
              });
              break;
            case "tool-approval-request":
              setToolCall(c, msg, part.toolCall.toolCallId, {
                name: part.toolCall.toolName,
                args: part.toolCall.input,
                status: "awaiting_approval",
              });
              c.broadcast(
                "approvalRequested",
                requestApproval(c.state, {
                  approvalId: part.approvalId,
                  toolCallId: part.toolCall.toolCallId,
                  toolName: part.toolCall.toolName,
                  args: jsonSafe(part.toolCall.input),
                  messageId: msg.id,
                  requestedAt: Date.now(),
                }),
              );
              break;
            case "finish-step":
              inputTokens += part.usage.inputTokens ?? 0;
              outputTokens += part.usage.outputTokens ?? 0;
              unfinishedStepOutput = 0;
              break;
            case "error":
              errorText = describeError(part.error);
              break;
            default:
              break;
          }
        }
      } catch (err) {
        // As `for await` would: a part that throws here cancels the stream.
        void parts.return?.()?.catch(() => {});
        throw err;
      }
      if (!signal.aborted && errorText === undefined) {
        // Without onFinish (no step recorded) the promise rejects with the SDK's reason.
        const messages = responseMessages ?? (await result.response).messages;
        if (!signal.aborted) pushHistory(c, ...messages);
      }
    };
    const abortedNow = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await Promise.race([
      consume().catch((err: unknown) => {
        if (!signal.aborted) errorText = describeError(err);
      }),
      abortedNow,
    ]);
    clearTimeout(stallTimer);
    // A tool still running gives up at the abort (its next check of the signal): its card is
    // written once it has, so that it says what the tool did.
    const toolOutcomes = signal.aborted
      ? await settleTools(gen.tools, TOOL_STOP_WAIT_MS)
      : new Map<string, ToolOutcome>();
    // Tokens the user received of a step cut short count against their day like any others.
    outputTokens += unfinishedStepOutput;
    const msg = messageById(c, gen.messageId);
    if (!msg) return;
    msg.text = gen.text;
    if (signal.aborted && signal.reason instanceof ModelStalled) {
      msg.status = "error";
      msg.error = signal.reason.message;
      closeHistory(c, gen.text);
    } else if (signal.aborted) {
      msg.status = signal.reason instanceof StoppedByUser ? "stopped" : "interrupted";
      // A tool that ended before the abort was read (its change landed: saved, scheduled) gets
      // its result; one that gave up, or is still running past the wait, is stopped.
      for (const [id, run] of gen.tools) {
        const outcome = toolOutcomes.get(id);
        const call = msg.toolCalls.find((t) => t.id === id);
        if (outcome?.ok && (!call || call.status === "running")) {
          setToolCall(c, msg, id, {
            name: run.name,
            args: run.input,
            status: "done",
            result: outcome.output,
          });
        }
      }
      for (const call of msg.toolCalls) {
        if (call.status === "running") {
          call.status = "error";
          call.error = "Stopped before it finished.";
          call.version += 1;
          enqueueToolCall(c, msg, call);
        }
      }
      closeHistory(c, gen.text);
    } else if (errorText !== undefined) {
      msg.status = "error";
      msg.error = errorText;
      closeHistory(c, gen.text);
    } else {
      msg.status = c.state.approval?.messageId === msg.id ? "awaiting_approval" : "complete";
    }
    msg.usage.inputTokens += inputTokens;
    msg.usage.outputTokens += outputTokens;
    c.state.usage.inputTokens += inputTokens;
    c.state.usage.outputTokens += outputTokens;
    c.state.generation = null;
    // Idle before anyone hears it ended, so a prompt sent on that news is taken.
    if (c.vars.gen === gen) c.vars.gen = undefined;
    touch(c, msg);
    // The end of an answer (its status, an approval request) is stored before the work ends.
    await c
      .saveState({ immediate: true })
      .catch((err: unknown) => c.log.warn("could not save the end of an answer", { error: err }));
    if (inputTokens + outputTokens > 0) {
      // The list's daily total; a failure is logged (the conversation's own count is kept).
      c.waitUntil(
        listHandle(c)
          .recordUsage({ conversationId: c.key[1]!, inputTokens, outputTokens })
          .catch((err: unknown) => c.log.warn("could not record usage", { error: err })),
      );
    }
    reportActivity(c);
  }

  function appendText(c: AgentCtx, gen: LiveGeneration, msg: ChatMessage, delta: string): void {
    const start = gen.text.length;
    gen.text += delta;
    c.broadcast("token", { messageId: msg.id, start, delta });
    const now = Date.now();
    if (now - gen.lastSavedAt >= saveIntervalMs) {
      msg.text = gen.text;
      gen.lastSavedAt = now;
      // Outside an action the runtime would wait up to its stateSaveInterval (10 s): the
      // bounded rate is this interval, one write per save, whatever the token rate.
      saveSoon(c);
    }
  }

  function setToolCall(
    c: AgentCtx,
    msg: ChatMessage,
    id: string,
    change: Partial<Omit<ToolCallView, "id" | "version" | "createdAt">>,
  ): void {
    let call = msg.toolCalls.find((t) => t.id === id);
    if (!call) {
      call = {
        id,
        name: change.name ?? "unknown",
        args: null,
        status: "running",
        textAt: liveText(c, msg).length,
        createdAt: Date.now(),
        version: 0,
      };
      msg.toolCalls.push(call);
      call = msg.toolCalls.at(-1)!;
    }
    if (change.name !== undefined) call.name = change.name;
    if (change.args !== undefined) call.args = jsonSafe(change.args);
    // Statuses only move forward (approval.ts): a late part cannot revive a denied call.
    if (change.status !== undefined && canMove(call.status, change.status)) {
      call.status = change.status;
    }
    if (change.result !== undefined) call.result = jsonSafe(change.result);
    if (change.error !== undefined) call.error = change.error;
    call.version += 1;
    enqueueToolCall(c, msg, call);
    msg.version += 1;
    c.broadcast("messageUpdated", withLiveText(c, msg));
    c.vars.flusher?.kick();
  }

  function enqueueToolCall(c: AgentCtx, msg: ChatMessage, call: ToolCallView): void {
    enqueue(c.state, {
      kind: "toolCall",
      row: {
        id: call.id,
        conversationId: c.key[1]!,
        messageId: msg.id,
        userId: c.key[0]!,
        name: call.name,
        args: call.args ?? null,
        result: call.result ?? null,
        status: call.status,
        error: call.error ?? null,
        createdAt: call.createdAt,
        version: call.version,
      },
    });
  }

  function addMessage(
    c: AgentCtx,
    role: ChatMessage["role"],
    text: string,
    status: MessageStatus,
    now: number,
  ): ChatMessage {
    c.state.seq += 1;
    const msg: ChatMessage = {
      id: randomUUID(),
      seq: c.state.seq,
      role,
      text,
      status,
      toolCalls: [],
      usage: { inputTokens: 0, outputTokens: 0 },
      createdAt: now,
      version: 1,
    };
    c.state.messages.push(msg);
    if (c.state.messages.length > MAX_MESSAGES_IN_STATE) {
      c.state.messages.splice(0, c.state.messages.length - MAX_MESSAGES_IN_STATE);
    }
    c.state.lastActivityAt = now;
    enqueueMessage(c, msg);
    c.broadcast("message", { ...msg });
    return msg;
  }

  /** Records a change of `msg` (durably, in SQL and to every connection). */
  function touch(c: AgentCtx, msg: ChatMessage): void {
    msg.version += 1;
    c.state.lastActivityAt = Date.now();
    enqueueMessage(c, msg);
    c.broadcast("messageUpdated", withLiveText(c, msg));
  }

  function enqueueMessage(c: AgentCtx, msg: ChatMessage): void {
    enqueue(c.state, {
      kind: "message",
      row: {
        id: msg.id,
        conversationId: c.key[1]!,
        userId: c.key[0]!,
        seq: msg.seq,
        role: msg.role,
        text: msg.text,
        status: msg.status,
        error: msg.error ?? null,
        inputTokens: msg.usage.inputTokens,
        outputTokens: msg.usage.outputTokens,
        createdAt: msg.createdAt,
        version: msg.version,
      },
    });
    c.vars.flusher?.kick();
    void ensureOutboxAlarm(c).catch(() => {});
  }

  function reportActivity(c: AgentCtx): void {
    c.state.lastActivityAt = Date.now();
    enqueue(c.state, { kind: "conversation", row: conversationRow(c) });
    c.vars.flusher?.kick();
    const update = {
      conversationId: c.key[1]!,
      title: c.state.title,
      lastActivityAt: c.state.lastActivityAt,
    };
    c.waitUntil(
      listHandle(c)
        .conversationActivity(update)
        .catch((err: unknown) => c.log.warn("could not report activity", { error: err })),
    );
  }

  function listHandle(c: AgentCtx) {
    return c
      .client<ListView>()
      .agentList.getOrCreate([c.key[0]!], { params: { internal: internalKey } });
  }

  async function ensureOutboxAlarm(c: AgentCtx): Promise<void> {
    if (c.state.outbox.length === 0) return;
    const now = Date.now();
    if (!c.schedule.list().some((a) => a.action === "flushOutbox" && a.at > now)) {
      await c.schedule.after(OUTBOX_CHECK_MS, "flushOutbox");
    }
  }
}

type ToolOutcome = Awaited<ToolRun["outcome"]>;

/** The same tools, each execution recorded in `runs` (by tool call id) with how it ended. */
function trackTools<T extends ToolSet>(tools: T, runs: Map<string, ToolRun>): T {
  const tracked: ToolSet = {};
  for (const [name, t] of Object.entries(tools)) {
    const execute = t.execute;
    if (!execute) {
      tracked[name] = t;
      continue;
    }
    tracked[name] = {
      ...t,
      execute: (input: unknown, options: ToolExecutionOptions) => {
        const run = Promise.resolve(execute(input, options)) as Promise<unknown>;
        runs.set(options.toolCallId, {
          name,
          input,
          outcome: run.then(
            (output) => ({ ok: true as const, output }),
            () => ({ ok: false as const }),
          ),
        });
        return run;
      },
    } as Tool;
  }
  return tracked as T;
}

/** How each tool run ended, waiting at most `ms` for those still running (absent then). */
async function settleTools(
  runs: Map<string, ToolRun>,
  ms: number,
): Promise<Map<string, ToolOutcome>> {
  const outcomes = new Map<string, ToolOutcome>();
  if (runs.size === 0) return outcomes;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(
      [...runs].map(async ([id, run]) => {
        outcomes.set(id, await run.outcome);
      }),
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
  return new Map(outcomes);
}

function conversationRow(c: AgentCtx) {
  return {
    id: c.key[1]!,
    userId: c.key[0]!,
    title: c.state.title,
    createdAt: c.state.createdAt,
    lastActivityAt: c.state.lastActivityAt,
    version: c.state.outboxSeq + 1,
  };
}

function saveSoon(c: AgentCtx): void {
  c.saveState({ immediate: true }).catch((err: unknown) =>
    c.log.warn("could not save the answer so far", { error: err }),
  );
}

/** From the newest: the message being streamed is the last or nearly (this runs per token). */
function messageById(c: AgentCtx, id: string): ChatMessage | undefined {
  return c.state.messages.findLast((m) => m.id === id);
}

function liveText(c: AgentCtx, msg: ChatMessage): string {
  return c.vars.gen?.messageId === msg.id ? c.vars.gen.text : msg.text;
}

function withLiveText(c: AgentCtx, msg: ChatMessage): ChatMessage {
  return jsonSafe({ ...msg, text: liveText(c, msg) });
}

function pushHistory(c: AgentCtx, ...messages: ModelMessage[]): void {
  for (const m of messages) c.state.history.push(jsonSafe(m));
  if (c.state.history.length > MAX_HISTORY) {
    let cut = c.state.history.length - MAX_HISTORY;
    // Start at a user message, so no tool result is left without its call.
    while (cut < c.state.history.length && (c.state.history[cut] as ModelMessage).role !== "user")
      cut++;
    c.state.history.splice(0, cut);
  }
}

/** After an answer that did not finish: its text so far is what the model said. */
function closeHistory(c: AgentCtx, text: string): void {
  if (text) pushHistory(c, { role: "assistant", content: text });
}

/** Plain JSON (no undefined, no class instances): what state can store. */
function jsonSafe<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

function userOrInternal(conn: { state: AgentConnState } | undefined): Identity | null {
  if (conn?.state.kind === "internal") return null;
  return userOf(conn);
}

/** The reason in words, for the message's `error` and the tool card. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const message = err.message || err.name;
    // Provider errors often wrap the network's reason ("terminated", "ECONNRESET").
    const cause = err.cause instanceof Error ? err.cause.message : undefined;
    return cause && !message.includes(cause) ? `${message} (${cause})` : message;
  }
  if (typeof err === "string") return err;
  try {
    return JSON.stringify(err);
  } catch {
    return "Unknown error.";
  }
}
