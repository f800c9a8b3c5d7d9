// The stand-in model through the AI SDK itself (`streamText`), as the agent calls it: the same
// prompt gives the same stream, tools are chosen by the documented rules, the pace holds,
// usage is reported and an abort stops the stream.
import { stepCountIs, streamText, tool } from "ai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { arithmeticIn, planAnswer, StandInModel, tokenize } from "./stand-in.js";

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
