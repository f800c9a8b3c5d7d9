/**
 * `agentList`, keyed `[userId]`: the coordinator of one user's conversations.
 *
 * It is the only way to start a conversation: `createConversation` makes the `agent` actor with
 * `create` (a fresh id, so a collision fails loudly) under `[userId, conversationId]`, in-process.
 * Conversations report their activity back (title, last activity), and the list broadcasts
 * `conversationsChanged` with the whole list, small enough to need no diffing.
 *
 * It also keeps the user's token usage per UTC day and enforces the daily budget: an agent asks
 * `checkBudget` before each generation (refused with `budget_exhausted` once spent) and reports
 * what it used after. The check is before and the count after, so the last answer of a day can
 * go past the budget by its own size; it never starts another one. Daily totals go to SQL
 * (`usage_daily`) through this actor's outbox.
 */
import { randomUUID } from "node:crypto";
import type { ActorContext } from "troupe";
import { actor, event, Forbidden, UserError } from "troupe";
import {
  clearAllTokenExpiries,
  type TokenTimers,
  unwatchConnection,
  watchConnection,
} from "troupe/accounts";
import { enqueue, OutboxFlusher } from "troupe/outbox";
import { z } from "zod";
import {
  type AgentOutboxEntry,
  type AgentOutboxState,
  type OutboxWriter,
  writeBatch,
} from "../db/outbox.js";
import {
  type AgentConnParams,
  type AgentConnState,
  type AgentServices,
  assertInternal,
  assertOwner,
  connStateOf,
  DAILY_TOKEN_BUDGET,
  userOf,
  utcDay,
  verifyToken,
} from "./services.js";

/** Most conversations one user can have. */
export const MAX_CONVERSATIONS_PER_USER = 1000;
/** Days of usage kept in the list's state (SQL keeps them all). */
const USAGE_DAYS_KEPT = 31;
const OUTBOX_CHECK_MS = 30_000;

export interface ConversationSummary {
  id: string;
  title: string;
  createdAt: number;
  lastActivityAt: number;
}

export interface DailyUsage {
  day: string;
  inputTokens: number;
  outputTokens: number;
  budget: number;
}

export interface AgentListState extends AgentOutboxState {
  conversations: Record<string, ConversationSummary>;
  usage: Record<string, { inputTokens: number; outputTokens: number }>;
}

export interface ListVars {
  flusher: OutboxFlusher<AgentOutboxEntry> | undefined;
  /** Closes each user connection when its token expires, by connection id. */
  tokenTimers: TokenTimers;
}

const titleArg = z.string().max(200).optional();
const usageArg = z.object({
  conversationId: z.string().min(1).max(200),
  inputTokens: z.number().int().min(0),
  outputTokens: z.number().int().min(0),
});
const activityArg = z.object({
  conversationId: z.string().min(1).max(200),
  title: z.string().max(200),
  lastActivityAt: z.number(),
});

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new UserError(r.error.issues[0]?.message ?? "Invalid input.", { code: "invalid_input" });
  }
  return r.data;
}

type ListCtx = ActorContext<AgentListState, AgentConnParams, AgentConnState, ListVars, unknown>;

export function createAgentList(
  services: AgentServices,
  internalKey: string,
  writeOutbox: OutboxWriter = (batch) => writeBatch(services.db, batch),
) {
  const budget = services.dailyTokenBudget ?? DAILY_TOKEN_BUDGET;

  return actor({
    events: {
      conversationsChanged: event<ConversationSummary[]>(),
      usageChanged: event<DailyUsage>(),
    },
    state: { conversations: {}, usage: {}, outbox: [], outboxSeq: 0 } as AgentListState,
    createVars: (): ListVars => ({ flusher: undefined, tokenTimers: new Map() }),

    /** Only its owner creates a user's list, under exactly `[their userId]`; or the agents. */
    onBeforeCreate: async (_c, { key, params }) => {
      const p = params as AgentConnParams | undefined;
      if (p?.internal !== undefined) {
        if (p.internal !== internalKey) throw new Forbidden("Not an internal caller.");
        return;
      }
      const user = await verifyToken(services, p?.token);
      if (key.length !== 1) throw new Forbidden("A conversation list is keyed by its user only.");
      assertOwner(key, user);
    },

    createConnState: (c, params: AgentConnParams | undefined): Promise<AgentConnState> =>
      connStateOf(services, internalKey, params, c.key),

    onWake: (c) => {
      const ctx = c as unknown as ListCtx;
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
      clearAllTokenExpiries(c.vars.tokenTimers);
      const flusher = c.vars.flusher;
      if (flusher) {
        await Promise.race([flusher.flushNow(), new Promise((r) => setTimeout(r, 2000))]);
        flusher.stop();
      }
    },

    actions: {
      listConversations: (c) => {
        userOf(c.conn);
        return sorted(c.state.conversations);
      },

      /** Starts a conversation; its agent exists when this replies. */
      createConversation: async (c, title?: string) => {
        userOf(c.conn);
        const t = parse(titleArg, title);
        if (Object.keys(c.state.conversations).length >= MAX_CONVERSATIONS_PER_USER) {
          throw new UserError(`A user has at most ${MAX_CONVERSATIONS_PER_USER} conversations.`, {
            code: "too_many_conversations",
          });
        }
        const id = randomUUID();
        await c.client().agent.create([c.key[0]!, id], { input: { title: t } });
        const now = Date.now();
        const summary: ConversationSummary = {
          id,
          title: (t ?? "").trim().slice(0, 80) || "New conversation",
          createdAt: now,
          lastActivityAt: now,
        };
        c.state.conversations[id] = summary;
        c.broadcast("conversationsChanged", sorted(c.state.conversations));
        return { ...summary };
      },

      /** Today's tokens and the budget. */
      usageToday: (c): DailyUsage => {
        userOf(c.conn);
        return today(c as unknown as ListCtx);
      },

      /** Called by an agent before it generates: refuses once today's budget is spent. */
      checkBudget: (c) => {
        assertInternal(c.conn);
        const u = today(c as unknown as ListCtx);
        const used = u.inputTokens + u.outputTokens;
        if (used >= budget) {
          throw new UserError(
            `You have used today's ${budget} tokens. The budget resets at midnight UTC.`,
            { code: "budget_exhausted", metadata: { used, budget, day: u.day } },
          );
        }
        return { left: budget - used };
      },

      /** Called by an agent after a generation, with what it used. */
      recordUsage: (c, update: z.input<typeof usageArg>) => {
        assertInternal(c.conn);
        const u = parse(usageArg, update);
        const day = utcDay();
        c.state.usage[day] ??= { inputTokens: 0, outputTokens: 0 };
        // Read back through the state: the object assigned is a copy the state tracks.
        const entry = c.state.usage[day]!;
        entry.inputTokens += u.inputTokens;
        entry.outputTokens += u.outputTokens;
        for (const d of Object.keys(c.state.usage).sort().slice(0, -USAGE_DAYS_KEPT)) {
          delete c.state.usage[d];
        }
        enqueue(c.state, { kind: "usage", userId: c.key[0]!, day, ...entry });
        c.vars.flusher?.kick();
        void ensureOutboxAlarm(c as unknown as ListCtx).catch(() => {});
        c.broadcast("usageChanged", today(c as unknown as ListCtx));
        return today(c as unknown as ListCtx);
      },

      /** Called by an agent when its title or activity changes. */
      conversationActivity: (c, update: z.input<typeof activityArg>) => {
        assertInternal(c.conn);
        const a = parse(activityArg, update);
        const conv = c.state.conversations[a.conversationId];
        if (!conv) return;
        if (conv.title === a.title && conv.lastActivityAt >= a.lastActivityAt) return;
        conv.title = a.title;
        conv.lastActivityAt = Math.max(conv.lastActivityAt, a.lastActivityAt);
        c.broadcast("conversationsChanged", sorted(c.state.conversations));
      },

      flushOutbox: async (c) => {
        assertInternal(c.conn);
        await c.vars.flusher?.flushNow();
        await ensureOutboxAlarm(c as unknown as ListCtx);
        return { pending: c.state.outbox.length };
      },
    },
  });

  function today(c: ListCtx): DailyUsage {
    const day = utcDay();
    const u = c.state.usage[day] ?? { inputTokens: 0, outputTokens: 0 };
    return { day, inputTokens: u.inputTokens, outputTokens: u.outputTokens, budget };
  }
}

async function ensureOutboxAlarm(c: ListCtx): Promise<void> {
  if (c.state.outbox.length === 0) return;
  const now = Date.now();
  if (!c.schedule.list().some((a) => a.action === "flushOutbox" && a.at > now)) {
    await c.schedule.after(OUTBOX_CHECK_MS, "flushOutbox");
  }
}

function sorted(conversations: Record<string, ConversationSummary>): ConversationSummary[] {
  return Object.values(conversations)
    .map((s) => ({ ...s }))
    .sort((a, b) => b.lastActivityAt - a.lastActivityAt);
}
