/**
 * The agent's outbox entries and how they are written to SQL. The queue (entries in actor state,
 * flushed in batches, retried with backoff, a poison entry set aside so it never blocks the
 * rest) is the runtime's `troupe/outbox`; this file holds what is the agent's.
 *
 * Every entry is a full snapshot with a `version` (conversations, messages, tool calls) or an
 * absolute total (usage), written as an idempotent upsert: a replayed batch changes nothing,
 * and an older snapshot never overwrites a newer one, so entries may land in any order.
 *
 * The outboxes of all the actors of a process write through one `WriteGroup`: what they hand in
 * while a transaction is in flight goes into the next one, so 200 conversations flushing at once
 * are a few transactions on one pooled connection, not 200 transactions queueing for the pool's
 * ten (which, on a loaded machine, timed out waiting for a connection).
 */
import { sql } from "drizzle-orm";
import { type OutboxState, type Queued, storableRow } from "troupe/outbox";
import { type Db, inTransaction } from "./index.js";
import { conversations, messages, toolCalls, usageDaily } from "./schema.js";

export interface ConversationRow {
  id: string;
  userId: string;
  title: string;
  createdAt: number;
  lastActivityAt: number;
  version: number;
}

export interface MessageRow {
  id: string;
  conversationId: string;
  userId: string;
  seq: number;
  role: string;
  text: string;
  status: string;
  error: string | null;
  inputTokens: number;
  outputTokens: number;
  createdAt: number;
  version: number;
}

export interface ToolCallRow {
  id: string;
  conversationId: string;
  messageId: string;
  userId: string;
  name: string;
  args: unknown;
  result: unknown;
  status: string;
  error: string | null;
  createdAt: number;
  version: number;
}

export type AgentOutboxEntry =
  | { kind: "conversation"; row: ConversationRow }
  | { kind: "message"; row: MessageRow }
  | { kind: "toolCall"; row: ToolCallRow }
  /** The user's totals for one UTC day (absolute, so a replay is harmless). */
  | { kind: "usage"; userId: string; day: string; inputTokens: number; outputTokens: number };

export type AgentOutboxState = OutboxState<AgentOutboxEntry>;

/** Writes a batch of outbox entries to SQL (one transaction), or throws. */
export type OutboxWriter = (batch: readonly Queued<AgentOutboxEntry>[]) => Promise<void>;

export async function writeBatch(
  db: Db,
  batch: readonly Queued<AgentOutboxEntry>[],
): Promise<void> {
  // The newest snapshot of each row wins within a batch.
  const convs = new Map<string, ConversationRow>();
  const msgs = new Map<string, MessageRow>();
  const calls = new Map<string, ToolCallRow>();
  const usage = new Map<string, Extract<AgentOutboxEntry, { kind: "usage" }>>();
  for (const e of batch) {
    if (e.kind === "conversation") keepNewest(convs, e.row.id, e.row);
    else if (e.kind === "message") keepNewest(msgs, e.row.id, e.row);
    else if (e.kind === "toolCall")
      keepNewest(calls, JSON.stringify([e.row.conversationId, e.row.id]), e.row);
    else {
      const k = JSON.stringify([e.userId, e.day]);
      const prev = usage.get(k);
      if (!prev || prev.inputTokens + prev.outputTokens <= e.inputTokens + e.outputTokens)
        usage.set(k, e);
    }
  }
  await inTransaction(db, async (tx) => {
    if (convs.size > 0) {
      await tx
        .insert(conversations)
        .values(
          [...convs.values()].map((r) => ({
            ...storableRow(r),
            createdAt: new Date(r.createdAt),
            lastActivityAt: new Date(r.lastActivityAt),
          })),
        )
        .onConflictDoUpdate({
          target: conversations.id,
          set: {
            title: sql`excluded.title`,
            lastActivityAt: sql`excluded.last_activity_at`,
            version: sql`excluded.version`,
          },
          setWhere: sql`${conversations.version} < excluded.version`,
        });
    }
    if (msgs.size > 0) {
      await tx
        .insert(messages)
        .values(
          [...msgs.values()].map((r) => ({ ...storableRow(r), createdAt: new Date(r.createdAt) })),
        )
        .onConflictDoUpdate({
          target: messages.id,
          set: {
            text: sql`excluded.text`,
            status: sql`excluded.status`,
            error: sql`excluded.error`,
            inputTokens: sql`excluded.input_tokens`,
            outputTokens: sql`excluded.output_tokens`,
            version: sql`excluded.version`,
          },
          setWhere: sql`${messages.version} < excluded.version`,
        });
    }
    if (calls.size > 0) {
      await tx
        .insert(toolCalls)
        .values(
          [...calls.values()].map((r) => ({
            ...storableRow(r),
            args: r.args ?? null,
            result: r.result ?? null,
            createdAt: new Date(r.createdAt),
          })),
        )
        .onConflictDoUpdate({
          target: [toolCalls.conversationId, toolCalls.id],
          set: {
            result: sql`excluded.result`,
            status: sql`excluded.status`,
            error: sql`excluded.error`,
            version: sql`excluded.version`,
          },
          setWhere: sql`${toolCalls.version} < excluded.version`,
        });
    }
    if (usage.size > 0) {
      await tx
        .insert(usageDaily)
        .values(
          [...usage.values()].map((u) => ({
            userId: u.userId,
            day: u.day,
            inputTokens: u.inputTokens,
            outputTokens: u.outputTokens,
          })),
        )
        .onConflictDoUpdate({
          target: [usageDaily.userId, usageDaily.day],
          set: {
            inputTokens: sql`greatest(${usageDaily.inputTokens}, excluded.input_tokens)`,
            outputTokens: sql`greatest(${usageDaily.outputTokens}, excluded.output_tokens)`,
          },
        });
    }
  });
}

/** Rows in one grouped transaction at most (Postgres takes 65 535 parameters a statement). */
export const WRITE_GROUP_MAX_ENTRIES = 2000;

/**
 * Batches of many callers (the outbox flushers of every actor) written together: one
 * transaction at a time, with what every caller handed in meanwhile. Each caller hears of its own
 * batch as if written alone: if a group fails because of its data (a row the database refuses,
 * `isolate(err)`), every batch of it is written again on its own, so one bad entry fails only its
 * own outbox (which then sets it apart, `troupe/outbox`); if the database is unreachable, every
 * caller gets the error and retries with its backoff.
 */
export class WriteGroup<E> {
  private pending: { batch: readonly E[]; resolve: () => void; reject: (err: unknown) => void }[] =
    [];
  private running = false;

  constructor(
    private readonly writeAll: (batch: readonly E[]) => Promise<void>,
    private readonly opts: { maxEntries?: number; isolate?: (err: unknown) => boolean } = {},
  ) {}

  /** Writes `batch` (in a transaction with others'); resolves once it is committed. */
  readonly write = (batch: readonly E[]): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      if (!this.running) {
        this.running = true;
        // The batches handed in during this turn go together.
        setImmediate(() => void this.run());
      }
    });

  private async run(): Promise<void> {
    const max = this.opts.maxEntries ?? WRITE_GROUP_MAX_ENTRIES;
    while (this.pending.length > 0) {
      let entries = 0;
      let n = 0;
      while (
        n < this.pending.length &&
        (n === 0 || entries + this.pending[n]!.batch.length <= max)
      ) {
        entries += this.pending[n]!.batch.length;
        n++;
      }
      const group = this.pending.splice(0, n);
      try {
        await this.writeAll(group.length === 1 ? group[0]!.batch : group.flatMap((g) => g.batch));
        for (const g of group) g.resolve();
      } catch (err) {
        if (group.length === 1 || !(this.opts.isolate ?? isDataError)(err)) {
          for (const g of group) g.reject(err);
          continue;
        }
        for (const g of group) {
          try {
            await this.writeAll(g.batch);
            g.resolve();
          } catch (own) {
            g.reject(own);
          }
        }
      }
    }
    this.running = false;
  }
}

/**
 * Whether the database refused the data (a SQLSTATE outside the classes of connection trouble,
 * resources, operator intervention and transaction rollback), as opposed to not answering.
 */
export function isDataError(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    // SQLSTATE: five digits or capitals; no class starts with E (an errno such as EPIPE does).
    if (typeof code === "string" && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code)) {
      return !["08", "53", "57", "40"].includes(code.slice(0, 2));
    }
  }
  return false;
}

/** The outbox writer of a process: `writeBatch` through one `WriteGroup`. */
export function groupedWriter(db: Db): OutboxWriter {
  return new WriteGroup<Queued<AgentOutboxEntry>>((batch) => writeBatch(db, batch)).write;
}

function keepNewest<T extends { version: number }>(map: Map<string, T>, key: string, row: T): void {
  const prev = map.get(key);
  if (!prev || prev.version <= row.version) map.set(key, row);
}
