// The tools on their own: argument validation (what the SDK checks before `execute`), the notes
// tools over a real Postgres (scoped to their user, `%` and `_` taken literally), the
// reminder's time rules, and a stopped tool changing nothing (aborted before it ran, or while
// its change was being written: rolled back).
import { createScratchDatabase } from "troupe/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase, runMigrations } from "../db/index.js";
import {
  calculatorInput,
  createTools,
  deleteNoteInput,
  MAX_REMINDER_SECONDS,
  remindMeInput,
  saveNoteInput,
  type ToolHost,
} from "./index.js";

let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let database: Database;
beforeAll(async () => {
  scratch = await createScratchDatabase(process.env.DATABASE_URL!);
  database = openDatabase(scratch.url);
  await runMigrations(database);
});
afterAll(async () => {
  await database?.close();
  await scratch?.drop();
});

const NOW = Date.parse("2026-01-01T12:00:00Z");
function host(userId: string, scheduled: { text: string; at: number }[] = []): ToolHost {
  return {
    db: database.db,
    userId,
    now: () => NOW,
    scheduleReminder: async (text, at) => {
      scheduled.push({ text, at });
      return `r${scheduled.length}`;
    },
  };
}
const opts = { toolCallId: "t", messages: [] };

describe("tool arguments", () => {
  it("are checked before anything runs", () => {
    expect(calculatorInput.safeParse({ expression: 42 }).success).toBe(false);
    expect(calculatorInput.safeParse({ expression: "1+".repeat(150) }).success).toBe(false);
    expect(saveNoteInput.safeParse({ text: "   " }).success).toBe(false);
    expect(deleteNoteInput.safeParse({}).success).toBe(false);
    expect(remindMeInput.safeParse({ text: "x", inSeconds: 60 }).success).toBe(true);
    expect(remindMeInput.safeParse({ text: "x", at: "2026-01-01T13:00:00Z" }).success).toBe(true);
    // Exactly one of the two times.
    expect(remindMeInput.safeParse({ text: "x" }).success).toBe(false);
    expect(
      remindMeInput.safeParse({ text: "x", inSeconds: 60, at: "2026-01-01T13:00:00Z" }).success,
    ).toBe(false);
    expect(
      remindMeInput.safeParse({ text: "x", inSeconds: MAX_REMINDER_SECONDS + 1 }).success,
    ).toBe(false);
    expect(remindMeInput.safeParse({ text: "x", at: "tomorrow" }).success).toBe(false);
  });
});

describe("notes tools", () => {
  it("save, find and delete only the user's own notes, with % and _ taken literally", async () => {
    const ada = createTools(host("ada"));
    const bo = createTools(host("bo"));
    await ada.saveNote.execute!({ text: "100% done" }, opts);
    await ada.saveNote.execute!({ text: "1000 things" }, opts);
    await ada.saveNote.execute!({ text: "snake_case" }, opts);
    await bo.saveNote.execute!({ text: "100% Bo's" }, opts);
    const found = (await ada.searchNotes.execute!({ query: "100%" }, opts)) as {
      notes: { text: string }[];
    };
    expect(found.notes.map((n) => n.text)).toEqual(["100% done"]);
    const underscore = (await ada.searchNotes.execute!({ query: "e_c" }, opts)) as {
      notes: unknown[];
    };
    expect(underscore.notes).toEqual([{ id: expect.any(String), text: "snake_case" }]);
    // As a LIKE wildcard "_" would match the space of "1000 things".
    const literal = (await ada.searchNotes.execute!({ query: "0_t" }, opts)) as {
      notes: unknown[];
    };
    expect(literal.notes).toEqual([]);
    expect(await ada.deleteNote.execute!({ query: "100%" }, opts)).toEqual({ deleted: 1 });
    // Bo's note with the same text is still there.
    const bos = (await bo.searchNotes.execute!({ query: "100%" }, opts)) as { notes: unknown[] };
    expect(bos.notes).toHaveLength(1);
  });
});

describe("remindMe", () => {
  it("schedules at now + inSeconds or at the given time, and refuses the past", async () => {
    const scheduled: { text: string; at: number }[] = [];
    const tools = createTools(host("ada", scheduled));
    expect(await tools.remindMe.execute!({ text: "stretch", inSeconds: 120 }, opts)).toEqual({
      id: "r1",
      text: "stretch",
      at: "2026-01-01T12:02:00.000Z",
    });
    await tools.remindMe.execute!({ text: "lunch", at: "2026-01-01T14:00:00+01:00" }, opts);
    expect(scheduled).toEqual([
      { text: "stretch", at: NOW + 120_000 },
      { text: "lunch", at: Date.parse("2026-01-01T13:00:00Z") },
    ]);
    // 12:00 in UTC+1 is 11:00Z: already past.
    await expect(
      tools.remindMe.execute!({ text: "late", at: "2026-01-01T12:00:00+01:00" }, opts),
    ).rejects.toThrow("That time has already passed.");
    expect(scheduled).toHaveLength(2);
  });
});

describe("a stopped tool", () => {
  const notesOf = async (userId: string) =>
    (await scratch.query<{ text: string }>("SELECT text FROM notes WHERE user_id = $1", [userId]))
      .map((r) => r.text)
      .sort();
  const stop = () => new Error("Stopped by the user.");

  it("changes nothing when the signal fired before it ran", async () => {
    const scheduled: { text: string; at: number }[] = [];
    const tools = createTools(host("cy", scheduled));
    await tools.saveNote.execute!({ text: "keep this" }, opts);
    const stopped = { ...opts, abortSignal: AbortSignal.abort(stop()) };
    await expect(tools.saveNote.execute!({ text: "not this" }, stopped)).rejects.toThrow(
      "Stopped by the user.",
    );
    await expect(tools.deleteNote.execute!({ query: "keep" }, stopped)).rejects.toThrow(
      "Stopped by the user.",
    );
    await expect(
      tools.remindMe.execute!({ text: "stretch", inSeconds: 60 }, stopped),
    ).rejects.toThrow("Stopped by the user.");
    await expect(tools.searchNotes.execute!({ query: "keep" }, stopped)).rejects.toThrow(
      "Stopped by the user.",
    );
    await expect(tools.calculator.execute!({ expression: "1 + 1" }, stopped)).rejects.toThrow(
      "Stopped by the user.",
    );
    expect(await notesOf("cy")).toEqual(["keep this"]);
    expect(scheduled).toEqual([]);
  });

  it("rolls its write back when the signal fires while it is being written", async () => {
    const scheduled: { text: string; at: number }[] = [];
    await createTools(host("dee")).saveNote.execute!({ text: "keep this" }, opts);
    const held: string[] = [];
    /** Tools whose Stop arrives after the statement ran, before the commit. */
    const stoppedMidWrite = () => {
      const controller = new AbortController();
      const tools = createTools({
        ...host("dee", scheduled),
        beforeCommit: async (tool, signal) => {
          held.push(tool);
          expect(signal).toBe(controller.signal);
          controller.abort(stop());
        },
      });
      return { tools, options: { ...opts, abortSignal: controller.signal } };
    };
    let t = stoppedMidWrite();
    await expect(t.tools.saveNote.execute!({ text: "not this" }, t.options)).rejects.toThrow(
      "Stopped by the user.",
    );
    t = stoppedMidWrite();
    await expect(t.tools.deleteNote.execute!({ query: "keep" }, t.options)).rejects.toThrow(
      "Stopped by the user.",
    );
    t = stoppedMidWrite();
    await expect(
      t.tools.remindMe.execute!({ text: "stretch", inSeconds: 60 }, t.options),
    ).rejects.toThrow("Stopped by the user.");
    expect(held).toEqual(["saveNote", "deleteNote", "remindMe"]);
    expect(await notesOf("dee")).toEqual(["keep this"]);
    expect(scheduled).toEqual([]);

    // Through the same path, a call nobody stops commits.
    const passing = createTools({ ...host("dee", scheduled), beforeCommit: async () => {} });
    const signal = new AbortController().signal;
    await passing.saveNote.execute!({ text: "and this" }, { ...opts, abortSignal: signal });
    expect(
      await passing.deleteNote.execute!({ query: "keep" }, { ...opts, abortSignal: signal }),
    ).toEqual({ deleted: 1 });
    await passing.remindMe.execute!(
      { text: "stretch", inSeconds: 60 },
      { ...opts, abortSignal: signal },
    );
    expect(await notesOf("dee")).toEqual(["and this"]);
    expect(scheduled).toEqual([{ text: "stretch", at: NOW + 60_000 }]);
  });
});
