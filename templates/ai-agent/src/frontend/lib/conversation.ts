/**
 * What the conversation view shows, kept from the agent's snapshot (`getConversation`) and its
 * events. Pure functions, so the ordering rules are tested without a browser:
 *
 * - `token` extends a message's text from its position (`src/stream.ts`): a token the snapshot
 *   already had is dropped, a token past the end is a gap the caller fills with `readStream`;
 * - `messageUpdated` replaces a message but never shortens the text this view already shows
 *   (tokens that arrived after the update was sent are kept);
 * - `message` adds a message (or replaces one the view has).
 */
import type {
  ChatMessage,
  ConversationView,
  PendingApproval,
  StreamChunk,
  TokenEvent,
  ToolCallView,
} from "../../actors/index.js";
import { applyChunk, applyToken } from "../../stream.js";

export interface ViewState {
  loaded: boolean;
  title: string;
  model: string;
  messages: ChatMessage[];
  approval: PendingApproval | null;
  usage: { inputTokens: number; outputTokens: number };
}

export const EMPTY_VIEW: ViewState = {
  loaded: false,
  title: "",
  model: "",
  messages: [],
  approval: null,
  usage: { inputTokens: 0, outputTokens: 0 },
};

export function fromSnapshot(view: ConversationView): ViewState {
  return {
    loaded: true,
    title: view.title,
    model: view.model,
    messages: [...view.messages].sort((a, b) => a.seq - b.seq),
    approval: view.approval,
    usage: view.usage,
  };
}

/** The snapshot, keeping text this view streamed past it (tokens that crossed its reply). */
export function mergeSnapshot(state: ViewState, view: ConversationView): ViewState {
  const next = fromSnapshot(view);
  next.messages = next.messages.map((m) => keepLonger(state.messages, m));
  return next;
}

function keepLonger(have: ChatMessage[], incoming: ChatMessage): ChatMessage {
  const old = have.find((m) => m.id === incoming.id);
  if (old && old.text.length > incoming.text.length && old.text.startsWith(incoming.text)) {
    return { ...incoming, text: old.text };
  }
  return incoming;
}

export function upsertMessage(state: ViewState, msg: ChatMessage): ViewState {
  const merged = keepLonger(state.messages, msg);
  const others = state.messages.filter((m) => m.id !== msg.id);
  const messages = [...others, merged].sort((a, b) => a.seq - b.seq);
  // An answer that ended is no longer waiting for approval.
  const approval =
    state.approval?.messageId === msg.id && msg.status !== "awaiting_approval"
      ? null
      : state.approval;
  return { ...state, messages, approval };
}

/** Applies a token; `gap` says the caller must ask `readStream(messageId, from)`. */
export function applyTokenEvent(
  state: ViewState,
  token: TokenEvent,
): { state: ViewState; gap: { messageId: string; from: number } | null } {
  const msg = state.messages.find((m) => m.id === token.messageId);
  // Before the snapshot: it will bring this text.
  if (!msg) return { state, gap: null };
  const r = applyToken({ messageId: msg.id, text: msg.text }, token);
  if (r.gap) return { state, gap: { messageId: msg.id, from: msg.text.length } };
  if (r.stream.text === msg.text) return { state, gap: null };
  return {
    state: {
      ...state,
      messages: state.messages.map((m) => (m.id === msg.id ? { ...m, text: r.stream.text } : m)),
    },
    gap: null,
  };
}

export function applyStreamChunk(state: ViewState, chunk: StreamChunk): ViewState {
  return {
    ...state,
    messages: state.messages.map((m) =>
      m.id === chunk.messageId
        ? { ...m, text: applyChunk({ messageId: m.id, text: m.text }, chunk).text }
        : m,
    ),
  };
}

/** The message being generated, if any (Stop is shown while there is one). */
export function streamingMessage(state: ViewState): ChatMessage | undefined {
  return state.messages.find((m) => m.status === "streaming");
}

/** A piece of an answer as shown: its text and its tool cards in the order the model made them. */
export type MessagePart =
  | { kind: "text"; text: string; start: number }
  | { kind: "tool"; call: ToolCallView };

/**
 * The message's text cut where each tool call was made (`textAt`): what the model said before a
 * call (an approval request) reads above its card, what it said after (the outcome) below.
 * Calls stored without a position come first; empty text is left out.
 */
export function messageParts(message: Pick<ChatMessage, "text" | "toolCalls">): MessagePart[] {
  const calls = message.toolCalls
    .map((call, i) => ({ call, i, at: Math.min(call.textAt ?? 0, message.text.length) }))
    .sort((a, b) => a.at - b.at || a.i - b.i);
  const parts: MessagePart[] = [];
  let from = 0;
  for (const { call, at } of calls) {
    if (at > from) parts.push({ kind: "text", text: message.text.slice(from, at), start: from });
    parts.push({ kind: "tool", call });
    from = Math.max(from, at);
  }
  if (message.text.length > from) {
    parts.push({ kind: "text", text: message.text.slice(from), start: from });
  }
  return parts;
}

/**
 * When a reminder is due, in the reader's time zone and language: the time with its seconds
 * when it is today ("00:25:08"), the date and time otherwise ("1 Dec 2026, 09:00").
 */
export function formatDue(due: Date, now: Date, locales?: string | string[]): string {
  const sameDay = due.toDateString() === now.toDateString();
  return sameDay
    ? due.toLocaleTimeString(locales, { timeStyle: "medium" })
    : due.toLocaleString(locales, { dateStyle: "medium", timeStyle: "short" });
}

/** "12.3k" for token counts. */
export function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
}
