/**
 * The agent's tools, as the AI SDK takes them (`tool({ description, inputSchema, execute })`).
 * Arguments are validated with zod by the SDK before `execute` runs; a call with bad arguments or
 * an unknown name, or a tool that throws, becomes an error result the model sees, and the
 * generation goes on.
 *
 * - `calculator({ expression })`
 * - `saveNote({ text })`, `searchNotes({ query })`, `deleteNote({ query })` over the user's notes
 *   in SQL. `deleteNote` needs the user's approval first (`needsApproval`): the SDK ends the step
 *   with an approval request, the agent keeps it in durable state, and the generation goes on
 *   once the user answers (see agent.ts).
 * - `remindMe({ text, inSeconds } | { text, at })`: a durable alarm of the conversation's actor.
 *
 * **Stop stops a tool too.** Every `execute` takes the `abortSignal` the SDK passes on from
 * `streamText` (the generation's, which Stop and the actor stopping abort). A tool checks it
 * before each change; a note's insert or delete runs in a transaction that is committed only if
 * the signal has not fired meanwhile (pg cannot cancel a statement by signal, so the check sits
 * right before COMMIT and an abort during the statement rolls it back); a reminder is not set
 * once it has fired (`scheduleReminder` takes the signal too). So a stopped tool changes
 * nothing, and what the card says ("Stopped before it finished") is what SQL and state hold.
 */
import { randomUUID } from "node:crypto";
import { type ToolSet, tool, zodSchema } from "ai";
import { and, desc, eq, ilike } from "drizzle-orm";
import { z } from "zod";
import { type Db, inTransaction, type Tx } from "../db/index.js";
import { notes } from "../db/schema.js";
import { evaluate, MAX_EXPRESSION_CHARS } from "./calculator.js";

/** Most notes a search returns. */
export const MAX_NOTES_FOUND = 10;
/** Longest note. */
export const MAX_NOTE_CHARS = 2000;
/** Furthest a reminder may be: 30 days. */
export const MAX_REMINDER_SECONDS = 30 * 24 * 3600;

/** The tools that change something, each at the moment its change would become permanent. */
export type CommittingTool = "saveNote" | "deleteNote" | "remindMe";

export interface ToolHost {
  db: Db;
  userId: string;
  /**
   * Schedules a reminder durably; returns its id. Throws without scheduling anything once
   * `signal` has fired (also when it fires while the alarm is being stored).
   */
  scheduleReminder(text: string, at: number, signal?: AbortSignal): Promise<string>;
  now(): number;
  /**
   * Awaited right before a tool's change becomes permanent (a note's insert or delete is
   * committed, a reminder is set), with the generation's signal: a test holds a tool there to
   * Stop it mid-call. Production leaves it unset.
   */
  beforeCommit?: (tool: CommittingTool, signal: AbortSignal | undefined) => Promise<void>;
}

export const calculatorInput = z.object({
  expression: z.string().min(1).max(MAX_EXPRESSION_CHARS),
});
export const saveNoteInput = z.object({ text: z.string().trim().min(1).max(MAX_NOTE_CHARS) });
export const searchNotesInput = z.object({ query: z.string().trim().min(1).max(200) });
export const deleteNoteInput = z.object({ query: z.string().trim().min(1).max(200) });
export const remindMeInput = z
  .object({
    text: z.string().trim().min(1).max(500),
    inSeconds: z.number().int().min(1).max(MAX_REMINDER_SECONDS).optional(),
    at: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((v) => (v.inSeconds === undefined) !== (v.at === undefined), {
    message: "Give exactly one of inSeconds and at.",
  });

/**
 * The schemas as the SDK takes them, made once: given a zod schema, `streamText` wraps it anew on
 * every call and converts it to JSON Schema again for the model (about 0.4 ms a generation for
 * these five); a wrapped one keeps its JSON Schema.
 */
const inputSchemas = {
  calculator: zodSchema(calculatorInput),
  saveNote: zodSchema(saveNoteInput),
  searchNotes: zodSchema(searchNotesInput),
  deleteNote: zodSchema(deleteNoteInput),
  remindMe: zodSchema(remindMeInput),
};

/** `%`, `_` and `\` match themselves in the ILIKE pattern. */
function containsPattern(query: string): string {
  return `%${query.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

/**
 * Runs `write` in one transaction, committed only if `signal` has not fired by then: a Stop
 * before the write changes nothing, one during it rolls it back.
 */
async function commitUnlessStopped<T>(
  host: ToolHost,
  tool: CommittingTool,
  signal: AbortSignal | undefined,
  write: (tx: Tx) => Promise<T>,
): Promise<T> {
  signal?.throwIfAborted();
  return inTransaction(host.db, async (tx) => {
    const result = await write(tx);
    await host.beforeCommit?.(tool, signal);
    signal?.throwIfAborted();
    return result;
  });
}

export function createTools(host: ToolHost) {
  return {
    calculator: tool({
      description: "Evaluates an arithmetic expression: + - * / % ^ and parentheses.",
      inputSchema: inputSchemas.calculator,
      execute: async ({ expression }, { abortSignal }) => {
        abortSignal?.throwIfAborted();
        return { expression, result: evaluate(expression) };
      },
    }),
    saveNote: tool({
      description: "Saves a note for the user.",
      inputSchema: inputSchemas.saveNote,
      execute: async ({ text }, { abortSignal }) => {
        const id = randomUUID();
        await commitUnlessStopped(host, "saveNote", abortSignal, (tx) =>
          tx.insert(notes).values({ id, userId: host.userId, text: text.replaceAll("\u0000", "") }),
        );
        return { id, text };
      },
    }),
    searchNotes: tool({
      description: "Finds the user's notes containing the query.",
      inputSchema: inputSchemas.searchNotes,
      execute: async ({ query }, { abortSignal }) => {
        abortSignal?.throwIfAborted();
        const rows = await host.db
          .select({ id: notes.id, text: notes.text })
          .from(notes)
          .where(and(eq(notes.userId, host.userId), ilike(notes.text, containsPattern(query))))
          .orderBy(desc(notes.createdAt))
          .limit(MAX_NOTES_FOUND);
        return { notes: rows };
      },
    }),
    deleteNote: tool({
      description: "Deletes the user's notes containing the query. Asks the user first.",
      inputSchema: inputSchemas.deleteNote,
      needsApproval: true,
      execute: async ({ query }, { abortSignal }) => {
        const rows = await commitUnlessStopped(host, "deleteNote", abortSignal, (tx) =>
          tx
            .delete(notes)
            .where(and(eq(notes.userId, host.userId), ilike(notes.text, containsPattern(query))))
            .returning({ id: notes.id }),
        );
        return { deleted: rows.length };
      },
    }),
    remindMe: tool({
      description:
        "Reminds the user of something later, as a message in this conversation. The result's `at` is UTC and the user's time zone is unknown: tell the user how long from now (\"in 2 minutes\"), not the timestamp.",
      inputSchema: inputSchemas.remindMe,
      execute: async ({ text, inSeconds, at }, { abortSignal }) => {
        const when = inSeconds !== undefined ? host.now() + inSeconds * 1000 : Date.parse(at!);
        if (when <= host.now()) throw new Error("That time has already passed.");
        if (when > host.now() + MAX_REMINDER_SECONDS * 1000) {
          throw new Error("A reminder can be at most 30 days ahead.");
        }
        abortSignal?.throwIfAborted();
        await host.beforeCommit?.("remindMe", abortSignal);
        abortSignal?.throwIfAborted();
        const id = await host.scheduleReminder(text, when, abortSignal);
        return { id, text, at: new Date(when).toISOString() };
      },
    }),
  } satisfies ToolSet;
}

export type AgentTools = ReturnType<typeof createTools>;
