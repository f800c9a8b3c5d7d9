import { describe, expect, it } from "vitest";
import type { ChatMessage, ConversationView } from "../../actors/index.js";
import {
  applyStreamChunk,
  applyTokenEvent,
  EMPTY_VIEW,
  formatDue,
  formatTokens,
  fromSnapshot,
  mergeSnapshot,
  messageParts,
  upsertMessage,
} from "./conversation.js";

function msg(id: string, seq: number, text: string, status: ChatMessage["status"]): ChatMessage {
  return {
    id,
    seq,
    role: "assistant",
    text,
    status,
    toolCalls: [],
    usage: { inputTokens: 0, outputTokens: 0 },
    createdAt: 0,
    version: 1,
  };
}

function snapshot(messages: ChatMessage[]): ConversationView {
  return {
    conversationId: "c",
    title: "t",
    model: "m",
    messages,
    approval: null,
    generating: null,
    usage: { inputTokens: 0, outputTokens: 0 },
  };
}

describe("conversation view state", () => {
  it("appends tokens from their position and drops what it already has", () => {
    let s = fromSnapshot(snapshot([msg("a", 1, "Hello ", "streaming")]));
    s = applyTokenEvent(s, { messageId: "a", start: 0, delta: "Hello " }).state;
    s = applyTokenEvent(s, { messageId: "a", start: 6, delta: "world" }).state;
    expect(s.messages[0]!.text).toBe("Hello world");
  });

  it("reports a gap for a token past the end, filled by a readStream chunk without doubles", () => {
    const s = fromSnapshot(snapshot([msg("a", 1, "one ", "streaming")]));
    const r = applyTokenEvent(s, { messageId: "a", start: 8, delta: "three " });
    expect(r.gap).toEqual({ messageId: "a", from: 4 });
    expect(r.state).toBe(s);
    const filled = applyStreamChunk(s, {
      messageId: "a",
      from: 4,
      text: "two three ",
      end: 14,
      status: "streaming",
    });
    expect(filled.messages[0]!.text).toBe("one two three ");
  });

  it("ignores tokens of a message it has not loaded yet", () => {
    const r = applyTokenEvent(EMPTY_VIEW, { messageId: "x", start: 0, delta: "hi" });
    expect(r.gap).toBeNull();
    expect(r.state.messages).toEqual([]);
  });

  it("an update or a snapshot never shortens text streamed past it", () => {
    let s = fromSnapshot(snapshot([msg("a", 1, "Hello world", "streaming")]));
    s = upsertMessage(s, msg("a", 1, "Hello", "streaming"));
    expect(s.messages[0]!.text).toBe("Hello world");
    s = mergeSnapshot(s, snapshot([msg("a", 1, "Hello wor", "streaming")]));
    expect(s.messages[0]!.text).toBe("Hello world");
    // A final update with the whole text wins.
    s = upsertMessage(s, msg("a", 1, "Hello world!", "complete"));
    expect(s.messages[0]!).toMatchObject({ text: "Hello world!", status: "complete" });
  });

  it("keeps messages in sequence and clears an answered approval", () => {
    let s = fromSnapshot(snapshot([msg("b", 2, "", "awaiting_approval")]));
    s = {
      ...s,
      approval: {
        approvalId: "p",
        toolCallId: "t",
        toolName: "deleteNote",
        args: {},
        messageId: "b",
        requestedAt: 0,
      },
    };
    s = upsertMessage(s, { ...msg("a", 1, "hi", "complete"), role: "user" });
    expect(s.messages.map((m) => m.id)).toEqual(["a", "b"]);
    expect(s.approval).not.toBeNull();
    s = upsertMessage(s, msg("b", 2, "", "streaming"));
    expect(s.approval).toBeNull();
  });

  it("formats token counts", () => {
    expect(formatTokens(950)).toBe("950");
    expect(formatTokens(12_345)).toBe("12k");
    expect(formatTokens(1_250)).toBe("1.3k");
  });

  it("cuts an answer at its tool calls: the request above the card, only the outcome below", () => {
    const call = (id: string, textAt?: number) => ({
      id,
      name: "deleteNote",
      args: { query: "dogs" },
      status: "done" as const,
      textAt,
      createdAt: 0,
      version: 1,
    });
    const text = "I need your approval to delete notes. Deleted 1 note.";
    expect(messageParts({ text, toolCalls: [call("t1", 38)] })).toEqual([
      { kind: "text", text: "I need your approval to delete notes. ", start: 0 },
      { kind: "tool", call: call("t1", 38) },
      { kind: "text", text: "Deleted 1 note.", start: 38 },
    ]);
    // Two calls, stored out of order; one made before any text; one without a position
    // (stored before positions existed) comes first.
    expect(
      messageParts({ text: "ab", toolCalls: [call("late", 1), call("old"), call("early", 0)] }).map(
        (p) => (p.kind === "tool" ? p.call.id : p.text),
      ),
    ).toEqual(["old", "early", "a", "late", "b"]);
    // A position past the text this view has so far (tokens still on their way): the card
    // goes at the end, nothing is cut or repeated.
    expect(messageParts({ text: "abc", toolCalls: [call("t", 10)] })).toEqual([
      { kind: "text", text: "abc", start: 0 },
      { kind: "tool", call: call("t", 10) },
    ]);
    expect(messageParts({ text: "", toolCalls: [] })).toEqual([]);
  });

  it("shows a reminder's due time in the reader's clock, with the date when not today", () => {
    const now = new Date(2026, 11, 1, 0, 24, 8);
    expect(formatDue(new Date(2026, 11, 1, 0, 25, 8), now, "en-GB")).toBe("00:25:08");
    expect(formatDue(new Date(2026, 11, 2, 9, 0, 0), now, "en-GB")).toBe("2 Dec 2026, 09:00");
  });
});
