/**
 * Following a streaming message from any position, for clients (the web UI, tests, the bench).
 *
 * The agent sends `token { messageId, start, delta }` with `start` the delta's offset in the
 * message text, and answers `readStream(messageId, from)` with the text from `from` on. A client
 * keeps the text it has; `applyToken` appends what extends it, drops what it already has (a
 * token that arrived also inside a `readStream` answer), and reports a gap (tokens lost while it
 * was away) so the caller asks `readStream` from its position.
 *
 * @example
 * let s = emptyStream(messageId);
 * conn.on("token", (t) => {
 *   const r = applyToken(s, t);
 *   s = r.stream;
 *   if (r.gap) conn.readStream(messageId, s.text.length).then((c) => { s = applyChunk(s, c); });
 * });
 */
import type { StreamChunk, TokenEvent } from "./actors/agent.js";

export interface FollowedStream {
  messageId: string;
  text: string;
}

export function emptyStream(messageId: string, text = ""): FollowedStream {
  return { messageId, text };
}

export function applyToken(
  stream: FollowedStream,
  token: TokenEvent,
): { stream: FollowedStream; gap: boolean } {
  if (token.messageId !== stream.messageId) return { stream, gap: false };
  const have = stream.text.length;
  const end = token.start + token.delta.length;
  if (token.start > have) return { stream, gap: true };
  if (end <= have) return { stream, gap: false };
  return {
    stream: { ...stream, text: stream.text + token.delta.slice(have - token.start) },
    gap: false,
  };
}

/** Applies a `readStream` answer (it may overlap what the client has, or start before it). */
export function applyChunk(stream: FollowedStream, chunk: StreamChunk): FollowedStream {
  if (chunk.messageId !== stream.messageId) return stream;
  return applyToken(stream, { messageId: chunk.messageId, start: chunk.from, delta: chunk.text })
    .stream;
}
