// The stand-in model through the AI SDK itself (`streamText`), as the agent calls it: the same
// prompt gives the same stream, tools are chosen by the documented rules, the pace holds,
// usage is reported and an abort stops the stream.

import { readFile } from "node:fs/promises";
import { stepCountIs, streamText, tool } from "ai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  arithmeticIn,
  formatDuration,
  planAnswer,
  STAND_IN_TOKENS_PER_SECOND,
  StandInModel,
  tokenize,
} from "./stand-in.js";

const noopTool = (schema: z.ZodObject) =>
  tool({ inputSchema: schema, execute: async (input) => ({ ...input, ok: true }) });
const TOOLS = {
  calculator: tool({
    inputSchema: z.object({ expression: z.string() }),
    execute: async () => ({ result: 20 }),
  }),
  saveNote: noopTool(z.object({ text: z.string() })),
  searchNotes: tool({
    inputSchema: z.object({ query: z.string() }),
    execute: async () => ({ notes: [{ id: "1", text: "buy milk" }] }),
  }),
  deleteNote: noopTool(z.object({ query: z.string() })),
  remindMe: noopTool(z.object({ text: z.string(), inSeconds: z.number() })),
};
const toolDefs = Object.keys(TOOLS).map((name) => ({
  type: "function" as const,
  name,
  inputSchema: {},
}));
const user = (text: string) => ({
  role: "user" as const,
  content: [{ type: "text" as const, text }],
});

async function run(prompt: string, tps = 0) {
  const result = streamText({
    model: new StandInModel({ tokensPerSecond: tps }),
    prompt,
    tools: TOOLS,
    stopWhen: stepCountIs(3),
  });
  const deltas: string[] = [];
  const calls: { toolName: string; input: unknown }[] = [];
  for await (const part of result.fullStream) {
    if (part.type === "text-delta") deltas.push(part.text);
    if (part.type === "tool-call") calls.push({ toolName: part.toolName, input: part.input });
  }
  return { deltas, text: deltas.join(""), calls, usage: await result.totalUsage };
}

describe("stand-in model", () => {
  it("streams the same tokens for the same prompt, word by word, and reports usage", async () => {
    const a = await run("count to 12");
    const b = await run("count to 12");
    expect(a.text).toBe("1 2 3 4 5 6 7 8 9 10 11 12");
    expect(a.deltas).toEqual(b.deltas);
    expect(a.deltas).toHaveLength(12);
    expect(a.usage.outputTokens).toBe(12);
    expect(a.usage.inputTokens).toBe(3);
  });

  it("chooses tools by its rules, and answers from the results", async () => {
    const calc = await run("what is (2 + 3) * 4?");
    expect(calc.calls).toEqual([{ toolName: "calculator", input: { expression: "(2 + 3) * 4" } }]);
    expect(calc.text).toBe("Calculating. The answer is 20.");

    const remind = await run("Remind me in 2 minutes to stretch.");
    expect(remind.calls).toEqual([
      { toolName: "remindMe", input: { text: "stretch", inSeconds: 120 } },
    ]);
    expect(remind.text).toBe("Setting a reminder. I will remind you in 2 minutes to stretch.");
    expect((await run("save a note: buy milk")).calls).toEqual([
      { toolName: "saveNote", input: { text: "buy milk" } },
    ]);
    const found = await run("find my notes about milk");
    expect(found.calls).toEqual([{ toolName: "searchNotes", input: { query: "milk" } }]);
    expect(found.text).toContain('I found 1 note: "buy milk".');
    expect((await run("delete the note about milk")).calls).toEqual([
      { toolName: "deleteNote", input: { query: "milk" } },
    ]);
  });

  it("answers in text without the tool when it is not offered, and otherwise with a fixed reply", () => {
    expect(planAnswer({ prompt: [user("what is 1 + 1")], tools: [] })).toEqual({
      kind: "text",
      text: "I would use the calculator tool for that, but it is not available here.",
    });
    const plan = planAnswer({ prompt: [user("hello there")], tools: toolDefs });
    expect(plan.kind).toBe("text");
    expect((plan as { text: string }).text).toContain("offline stand-in model");
  });

  it("says when a reminder is due as a person would, never as the tool's raw timestamp", () => {
    const at = "2026-12-01T00:25:08.558Z";
    const answered = (input: Record<string, unknown>) =>
      planAnswer({
        tools: toolDefs,
        prompt: [
          user("remind me"),
          {
            role: "assistant",
            content: [{ type: "tool-call", toolCallId: "c1", toolName: "remindMe", input }],
          },
          {
            role: "tool",
            content: [
              {
                type: "tool-result",
                toolCallId: "c1",
                toolName: "remindMe",
                output: { type: "json", value: { id: "r1", text: "stretch", at } },
              },
            ],
          },
        ],
      });
    // Asked after a delay: said the same way (the reader's time zone is not known here).
    expect(answered({ text: "stretch", inSeconds: 60 })).toEqual({
      kind: "text",
      text: "I will remind you in 1 minute to stretch.",
    });
    // Asked at a time: the time, in words, with its zone named.
    expect(answered({ text: "stretch", at })).toEqual({
      kind: "text",
      text: "I will remind you on 1 December 2026 at 00:25 (UTC) to stretch.",
    });
  });

  it("says durations in words", () => {
    expect(formatDuration(1)).toBe("1 second");
    expect(formatDuration(30)).toBe("30 seconds");
    expect(formatDuration(60)).toBe("1 minute");
    expect(formatDuration(90)).toBe("1 minute and 30 seconds");
    expect(formatDuration(7200)).toBe("2 hours");
    expect(formatDuration(90_061)).toBe("1 day, 1 hour, 1 minute and 1 second");
  });

  it("gives a long answer worth stopping for every count the README suggests trying Stop on", async () => {
    // Several seconds at the default pace, so a person has time to press Stop.
    const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
    const suggested = [...readme.matchAll(/"count to\s+(\d+)"[^.]*?\bStop\b/g)];
    expect(suggested.length).toBeGreaterThan(0);
    for (const [mention, n] of suggested) {
      const plan = planAnswer({ prompt: [user(`count to ${n}`)], tools: toolDefs });
      const seconds = tokenize((plan as { text: string }).text).length / STAND_IN_TOKENS_PER_SECOND;
      expect(seconds, mention).toBeGreaterThanOrEqual(5);
    }
  });

  it("finds arithmetic only where there is an operator between numbers", () => {
    expect(arithmeticIn("what is 12 / 4 ?")).toBe("12 / 4");
    expect(arithmeticIn("I have 3 cats")).toBeUndefined();
    expect(arithmeticIn("call 555-1234")).toBe("555-1234");
  });

  it("keeps its pace: tokens arrive no faster than tokens per second", async () => {
    const started = performance.now();
    const r = await run("count to 10", 200);
    // 10 tokens at 200/s: at least 50 ms (a lower bound only: a busy machine is slower).
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(r.deltas).toHaveLength(10);
  });

  it("stops at once when aborted, with no token after the abort", async () => {
    const controller = new AbortController();
    const result = streamText({
      model: new StandInModel({ tokensPerSecond: 100 }),
      prompt: "count to 1000",
      abortSignal: controller.signal,
      onError: () => {},
    });
    const deltas: string[] = [];
    let afterAbort = 0;
    let aborted = false;
    for await (const part of result.fullStream) {
      if (part.type === "text-delta") {
        if (controller.signal.aborted) afterAbort++;
        deltas.push(part.text);
        if (deltas.length === 5) controller.abort();
      }
      if (part.type === "abort") aborted = true;
    }
    expect(aborted).toBe(true);
    expect(afterAbort).toBe(0);
    expect(deltas).toHaveLength(5);
  });

  it("fails mid-stream on request, after the words it promised", async () => {
    const result = streamText({
      model: new StandInModel({ tokensPerSecond: 0 }),
      prompt: "please fail after 3 words",
      onError: () => {},
    });
    const deltas: string[] = [];
    let error: unknown;
    for await (const part of result.fullStream) {
      if (part.type === "text-delta") deltas.push(part.text);
      if (part.type === "error") error = part.error;
    }
    expect(deltas.join("")).toBe("word1 word2 word3");
    expect((error as Error).message).toMatch(/failed on purpose/);
  });

  it("tokenize keeps every character", () => {
    const text = "  Hello,  world!\nNext line ";
    expect(tokenize(text).join("")).toBe(text);
  });
});
