/**
 * The offline **stand-in model**: a `LanguageModelV3` (the provider spec that `ai` 6 calls) that
 * needs no network and no weights. It is not a language model: it answers by a few fixed rules,
 * so that everything around a model (streaming, tools, approvals, reminders, cancellation,
 * usage) can be used and tested offline. The app uses it when no real provider is configured
 * and says so in its answers.
 *
 * Rules, on the last message of the prompt:
 * - a user message
 *   - "remind me in 2 minutes to stretch" → `remindMe({ text, inSeconds })`
 *   - "save a note: buy milk" → `saveNote({ text })`
 *   - "find my notes about milk" / "search my notes for milk" → `searchNotes({ query })`
 *   - "delete the note about milk" → `deleteNote({ query })`
 *   - arithmetic ("what is (2 + 3) * 4?") → `calculator({ expression })`
 *   - "count to 300" → "1 2 3 … 300" (a long answer, for trying Stop: 7.5 s at the default pace)
 *   - "fail after 5 words" → five words, then a stream error (a provider failing mid-answer)
 *   - "stall after 5 words" → five words, then nothing until aborted (a provider that hangs)
 *   - "call the tool X" / "call calculator with bad arguments" → a call the app must refuse
 *   - anything else → a short fixed answer quoting the prompt
 *   A tool rule applies only if the tool is offered; otherwise the answer says it is missing.
 * - tool results → one sentence per result ("The answer is 20.", "Saved your note.", "I will
 *   remind you in 2 minutes to stretch.", …)
 *
 * Tokens are the words of the answer with their trailing space, streamed at `tokensPerSecond`
 * (0: as fast as possible), made as the reader pulls them (a slow reader holds the model back,
 * as a provider's socket does). Usage counts words: of the prompt (input) and of the answer
 * (output). Aborting stops the stream at once with the signal's reason.
 *
 * @example
 * const result = streamText({ model: new StandInModel({ tokensPerSecond: 50 }), prompt: "count to 5" });
 * for await (const t of result.textStream) process.stdout.write(t); // "1 2 3 4 5"
 */
import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3Content,
  LanguageModelV3FinishReason,
  LanguageModelV3GenerateResult,
  LanguageModelV3Message,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
  LanguageModelV3Usage,
} from "@ai-sdk/provider";

/** Default pace: about what a hosted model streams. */
export const STAND_IN_TOKENS_PER_SECOND = 40;
/** Longest "count to N" answer. */
export const STAND_IN_MAX_COUNT = 5000;

export interface StandInOptions {
  /** Tokens per second; 0 streams without pause. */
  tokensPerSecond?: number;
}

/** What the stand-in decided to do with a prompt. */
export type StandInPlan =
  | { kind: "text"; text: string }
  | { kind: "tool"; toolName: string; input: unknown; preface: string }
  | { kind: "fail"; text: string; reason: string }
  | { kind: "stall"; text: string };

export class StandInModel implements LanguageModelV3 {
  readonly specificationVersion = "v3" as const;
  readonly provider = "stand-in";
  readonly modelId = "offline-stand-in";
  readonly supportedUrls = {};
  readonly tokensPerSecond: number;

  constructor(opts: StandInOptions = {}) {
    this.tokensPerSecond = opts.tokensPerSecond ?? STAND_IN_TOKENS_PER_SECOND;
  }

  async doGenerate(options: LanguageModelV3CallOptions): Promise<LanguageModelV3GenerateResult> {
    const plan = planAnswer(options);
    const inputTokens = countPromptTokens(options.prompt);
    if (plan.kind === "fail") throw new Error(plan.reason);
    if (plan.kind === "stall") {
      await new Promise((_resolve, reject) => {
        if (options.abortSignal?.aborted) reject(options.abortSignal.reason);
        options.abortSignal?.addEventListener("abort", () => reject(options.abortSignal!.reason));
      });
    }
    const content: LanguageModelV3Content[] = [];
    const text = plan.kind === "tool" ? plan.preface : plan.text;
    if (text) content.push({ type: "text", text });
    if (plan.kind === "tool") {
      content.push({
        type: "tool-call",
        toolCallId: toolCallId(options.prompt),
        toolName: plan.toolName,
        input: JSON.stringify(plan.input),
      });
    }
    return {
      content,
      finishReason: finish(plan.kind === "tool" ? "tool-calls" : "stop"),
      usage: usage(inputTokens, tokenize(text).length),
      warnings: [],
    };
  }

  async doStream(options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
    const plan = planAnswer(options);
    const inputTokens = countPromptTokens(options.prompt);
    const signal = options.abortSignal;
    const delayMs = this.tokensPerSecond > 0 ? 1000 / this.tokensPerSecond : 0;
    const callId = toolCallId(options.prompt);
    // The parts are made as the reader pulls them (the stream's queue holds one ahead), as a
    // provider's response is read off its socket: a reader that falls behind (a busy server)
    // holds the model back instead of queueing the whole answer in memory, and no timer runs
    // for tokens nobody reads yet. The pace is kept: token i is due at started + (i + 1) *
    // delay, however late it is read.
    async function* produce(): AsyncGenerator<LanguageModelV3StreamPart> {
      let sent = 0;
      signal?.throwIfAborted();
      yield { type: "stream-start", warnings: [] };
      yield { type: "response-metadata", id: `stand-in-${callId}`, modelId: "offline-stand-in" };
      const text = plan.kind === "tool" ? plan.preface : plan.text;
      const tokens = tokenize(text);
      // A late timer (a busy machine) does not slow the pace of the tokens after it.
      const started = performance.now();
      const due = () => Math.max(0, started + (sent + 1) * delayMs - performance.now());
      if (tokens.length > 0) {
        yield { type: "text-start", id: "t0" };
        for (const token of tokens) {
          await pause(delayMs > 0 ? due() : 0, signal);
          yield { type: "text-delta", id: "t0", delta: token };
          sent += 1;
        }
        yield { type: "text-end", id: "t0" };
      }
      if (plan.kind === "stall") {
        // Nothing more, ever: only an abort ends it.
        await new Promise<void>((_resolve, reject) => {
          if (signal?.aborted) reject(signal.reason);
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      }
      if (plan.kind === "fail") {
        await pause(delayMs, signal);
        yield { type: "error", error: new Error(plan.reason) };
        yield { type: "finish", usage: usage(inputTokens, sent), finishReason: finish("error") };
        return;
      }
      if (plan.kind === "tool") {
        const input = JSON.stringify(plan.input);
        await pause(delayMs, signal);
        yield { type: "tool-input-start", id: callId, toolName: plan.toolName };
        yield { type: "tool-input-delta", id: callId, delta: input };
        yield { type: "tool-input-end", id: callId };
        yield { type: "tool-call", toolCallId: callId, toolName: plan.toolName, input };
        sent += tokenize(input).length;
      }
      yield {
        type: "finish",
        usage: usage(inputTokens, sent),
        finishReason: finish(plan.kind === "tool" ? "tool-calls" : "stop"),
      };
    }
    const parts = produce();
    let onAbort: (() => void) | undefined;
    const stream = new ReadableStream<LanguageModelV3StreamPart>({
      start(controller) {
        // An abort ends the stream at once, also while nothing is being pulled.
        onAbort = () => {
          controller.error(signal!.reason);
          void parts.return(undefined).catch(() => {});
        };
        signal?.addEventListener("abort", onAbort, { once: true });
      },
      async pull(controller) {
        try {
          const next = await parts.next();
          if (next.done) {
            signal?.removeEventListener("abort", onAbort!);
            controller.close();
          } else controller.enqueue(next.value);
        } catch (err) {
          signal?.removeEventListener("abort", onAbort!);
          controller.error(err);
        }
      },
      cancel() {
        signal?.removeEventListener("abort", onAbort!);
        void parts.return(undefined).catch(() => {});
      },
    });
    return { stream };
  }
}

/** The words of `text`, each with the white space after it: joined, they are `text` again. */
export function tokenize(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? [];
}

/** Decides the answer. Pure: the same prompt and tools give the same plan. */
export function planAnswer(
  options: Pick<LanguageModelV3CallOptions, "prompt" | "tools">,
): StandInPlan {
  const last = options.prompt.at(-1);
  const offered = new Set((options.tools ?? []).map((t) => t.name));
  if (last?.role === "tool") {
    return { kind: "text", text: describeResults(last, callInputs(options.prompt)) };
  }
  const prompt = last?.role === "user" ? textOf(last) : "";
  const tool = (toolName: string, input: unknown, preface: string): StandInPlan =>
    offered.has(toolName)
      ? { kind: "tool", toolName, input, preface }
      : {
          kind: "text",
          text: `I would use the ${toolName} tool for that, but it is not available here.`,
        };

  let m: RegExpMatchArray | null;
  if (
    (m = prompt.match(
      /\bremind me in (\d+(?:\.\d+)?)\s*(seconds?|secs?|minutes?|mins?|hours?)\s+(?:to\s+)?(.+)/i,
    ))
  ) {
    const unit = m[2]!.toLowerCase();
    const factor = unit.startsWith("h") ? 3600 : unit.startsWith("m") ? 60 : 1;
    const inSeconds = Math.round(Number(m[1]) * factor);
    return tool("remindMe", { text: trimEnd(m[3]!), inSeconds }, "Setting a reminder. ");
  }
  if ((m = prompt.match(/\bsave (?:a |this )?note:?\s+(.+)/i))) {
    return tool("saveNote", { text: trimEnd(m[1]!) }, "Saving that note. ");
  }
  if (
    (m = prompt.match(/\b(?:find|show|search) (?:my |the )?notes? (?:about |for |on |with )?(.+)/i))
  ) {
    return tool("searchNotes", { query: trimEnd(m[1]!) }, "Looking through your notes. ");
  }
  if ((m = prompt.match(/\bdelete (?:my |the )?notes? (?:about |on |with |containing )?(.+)/i))) {
    return tool("deleteNote", { query: trimEnd(m[1]!) }, "I need your approval to delete notes. ");
  }
  if ((m = prompt.match(/\bcall the tool ([A-Za-z_][\w-]*)/i))) {
    // Offered or not, with no arguments: what a confused model sends.
    return { kind: "tool", toolName: m[1]!, input: {}, preface: "" };
  }
  if (/\bcalculator with bad arguments\b/i.test(prompt)) {
    return tool("calculator", { expression: 42 }, "");
  }
  if ((m = prompt.match(/\bstall after (\d+) words?\b/i))) {
    const n = Math.min(Number(m[1]), STAND_IN_MAX_COUNT);
    return { kind: "stall", text: Array.from({ length: n }, (_, i) => `word${i + 1}`).join(" ") };
  }
  if ((m = prompt.match(/\bfail after (\d+) words?\b/i))) {
    const n = Math.min(Number(m[1]), STAND_IN_MAX_COUNT);
    return {
      kind: "fail",
      text: Array.from({ length: n }, (_, i) => `word${i + 1}`).join(" "),
      reason: "The stand-in model failed on purpose (you asked it to).",
    };
  }
  if ((m = prompt.match(/\bcount to (\d+)\b/i))) {
    const n = Math.min(Number(m[1]), STAND_IN_MAX_COUNT);
    return { kind: "text", text: Array.from({ length: n }, (_, i) => String(i + 1)).join(" ") };
  }
  const expression = arithmeticIn(prompt);
  if (expression) return tool("calculator", { expression }, "Calculating. ");
  const quoted = prompt.length > 80 ? `${prompt.slice(0, 77)}...` : prompt;
  return {
    kind: "text",
    text: `You said: "${quoted}". I am the offline stand-in model, not a real language model: I can calculate, save, find and delete notes, and set reminders. Configure a real provider to chat for real.`,
  };
}

/** An arithmetic expression in the prompt (digits, operators, parentheses), if any. */
export function arithmeticIn(prompt: string): string | undefined {
  const candidates = prompt.match(/[\d.()\s+\-*/^%]+/g) ?? [];
  for (const c of candidates) {
    const e = c.trim();
    if (/\d/.test(e) && /\d\s*[+\-*/^%]\s*[\d(]/.test(e)) return e;
  }
  return undefined;
}

/** The arguments of every tool call in the prompt, by call id. */
function callInputs(prompt: LanguageModelV3Message[]): Map<string, unknown> {
  const inputs = new Map<string, unknown>();
  for (const m of prompt) {
    if (m.role !== "assistant") continue;
    for (const p of m.content) if (p.type === "tool-call") inputs.set(p.toolCallId, p.input);
  }
  return inputs;
}

function describeResults(
  message: Extract<LanguageModelV3Message, { role: "tool" }>,
  inputs: Map<string, unknown>,
): string {
  const sentences: string[] = [];
  for (const part of message.content) {
    if (part.type !== "tool-result") continue;
    const out = part.output;
    if (out.type === "execution-denied") {
      sentences.push(`Understood: I did not run ${part.toolName}.`);
    } else if (out.type === "error-text" || out.type === "error-json") {
      const reason = out.type === "error-text" ? out.value : JSON.stringify(out.value);
      sentences.push(`The ${part.toolName} tool failed: ${reason}`);
    } else {
      const value = out.type === "json" || out.type === "text" ? out.value : undefined;
      sentences.push(describeValue(part.toolName, value, inputs.get(part.toolCallId)));
    }
  }
  return sentences.join(" ") || "Done.";
}

function describeValue(toolName: string, value: unknown, input: unknown): string {
  const v = (value ?? {}) as Record<string, unknown>;
  switch (toolName) {
    case "calculator":
      return `The answer is ${String(v.result)}.`;
    case "saveNote":
      return "Saved your note.";
    case "searchNotes": {
      const notes = Array.isArray(v.notes) ? (v.notes as { text?: unknown }[]) : [];
      if (notes.length === 0) return "I found no notes matching that.";
      return `I found ${notes.length} note${notes.length === 1 ? "" : "s"}: ${notes.map((n) => `"${String(n.text)}"`).join(", ")}.`;
    }
    case "deleteNote":
      return `Deleted ${String(v.deleted)} note${v.deleted === 1 ? "" : "s"}.`;
    case "remindMe":
      return describeReminder(v, (input ?? {}) as Record<string, unknown>);
    default:
      return `${toolName} returned ${JSON.stringify(value)}.`;
  }
}

/**
 * The reminder as a person says it. The result's `at` is data (UTC); the reader's time zone is
 * not known here, so the sentence says how long from now, as asked ("in 2 minutes"), and the
 * web page shows the clock time in the reader's zone beside it. A reminder asked for at a time
 * rather than after a delay is said in UTC, named as such.
 */
function describeReminder(result: Record<string, unknown>, input: Record<string, unknown>): string {
  const what = typeof result.text === "string" ? ` to ${result.text}` : "";
  if (typeof input.inSeconds === "number") {
    return `I will remind you in ${formatDuration(input.inSeconds)}${what}.`;
  }
  const at = new Date(String(result.at));
  if (Number.isNaN(at.getTime())) return `I set the reminder${what}.`;
  const when = at.toLocaleString("en-GB", {
    timeZone: "UTC",
    dateStyle: "long",
    timeStyle: "short",
  });
  return `I will remind you on ${when} (UTC)${what}.`;
}

/** 90 → "1 minute and 30 seconds", 7200 → "2 hours". */
export function formatDuration(totalSeconds: number): string {
  let rest = Math.max(0, Math.round(totalSeconds));
  const parts: string[] = [];
  for (const [unit, size] of [
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
    ["second", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? "" : "s"}`);
  }
  if (parts.length === 0) return "0 seconds";
  return parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
}

function textOf(message: LanguageModelV3Message): string {
  if (typeof message.content === "string") return message.content;
  return message.content
    .map((p) => (p.type === "text" ? p.text : ""))
    .join("")
    .trim();
}

function countPromptTokens(prompt: LanguageModelV3Message[]): number {
  let n = 0;
  for (const m of prompt) {
    if (typeof m.content === "string") n += tokenize(m.content).length;
    else {
      for (const p of m.content) {
        if (p.type === "text") n += tokenize(p.text).length;
        else if (p.type === "tool-call") n += tokenize(JSON.stringify(p.input)).length;
        else if (p.type === "tool-result") n += tokenize(JSON.stringify(p.output)).length;
      }
    }
  }
  return n;
}

/** Unique within a conversation (the prompt grows with every turn), the same for the same prompt. */
function toolCallId(prompt: LanguageModelV3Message[]): string {
  return `stand-in-call-${prompt.length}`;
}

function trimEnd(s: string): string {
  return s.trim().replace(/[.!?]+$/, "");
}

function finish(unified: LanguageModelV3FinishReason["unified"]): LanguageModelV3FinishReason {
  return { unified, raw: undefined };
}

function usage(input: number, output: number): LanguageModelV3Usage {
  return {
    inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
    outputTokens: { total: output, text: output, reasoning: undefined },
  };
}

/**
 * Waits `ms`, or rejects with the signal's reason as soon as it aborts. At 0 (no pace, or a
 * stream behind its schedule) it still yields to I/O once: a stream catching up must not hold
 * the event loop (sockets, pings, other actors) for its whole backlog.
 */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
