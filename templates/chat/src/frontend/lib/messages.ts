/**
 * The message list of a room as the client keeps it: one array sorted by `seq`, merged from
 * `getRoom`, `history` pages and live events, which can arrive in any order and more than once
 * (a reconnect reloads the room; a send's reply and its `message` event both carry the message).
 * The newest version of a message wins. Deleted messages stay as tombstones (hidden when shown),
 * so a history page knows where it ends.
 */
import type { Message } from "../../actors/index.js";

export type { Message };

/** Merges `incoming` into `current` (sorted by seq, one entry per id, newest version wins). */
export function mergeMessages(
  current: readonly Message[],
  incoming: readonly Message[],
): Message[] {
  if (incoming.length === 0) return current as Message[];
  const byId = new Map<string, Message>();
  for (const m of current) byId.set(m.id, m);
  let changed = false;
  for (const m of incoming) {
    const known = byId.get(m.id);
    if (known && known.version >= m.version) continue;
    byId.set(m.id, m);
    changed = true;
  }
  if (!changed) return current as Message[];
  return [...byId.values()].sort((a, b) => a.seq - b.seq);
}

/** Marks a message deleted (the `messageDeleted` event carries only id and seq). */
export function markDeleted(current: readonly Message[], id: string, at = Date.now()): Message[] {
  let changed = false;
  const next = current.map((m) => {
    if (m.id !== id || m.deletedAt !== null) return m;
    changed = true;
    return { ...m, text: "", deletedAt: at, version: m.version + 1 };
  });
  return changed ? next : (current as Message[]);
}

/** The messages to show: not deleted. */
export function visibleMessages(messages: readonly Message[]): Message[] {
  return messages.filter((m) => m.deletedAt === null);
}

/**
 * Whether older history may exist before the loaded messages: seqs start at 1 and have no
 * gaps, so anything loaded that starts above 1 has something before it.
 */
export function mayHaveOlder(messages: readonly Message[], historyExhausted: boolean): boolean {
  if (historyExhausted) return false;
  const first = messages[0];
  return first !== undefined && first.seq > 1;
}

/** Consecutive messages by one author within this window are shown as one group. */
export const GROUP_WINDOW_MS = 5 * 60_000;

/** Whether `m` starts a new visual group after `previous` (another author, a pause, another day). */
export function startsGroup(previous: Message | undefined, m: Message): boolean {
  if (!previous) return true;
  if (previous.authorId !== m.authorId) return true;
  if (m.createdAt - previous.createdAt > GROUP_WINDOW_MS) return true;
  return new Date(previous.createdAt).toDateString() !== new Date(m.createdAt).toDateString();
}

/** "Ada is typing…", "Ada and Grace are typing…", "Ada, Grace and 2 others are typing…". */
export function typingSentence(names: readonly string[]): string | null {
  if (names.length === 0) return null;
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} others are typing…`;
}

/** Splits a search snippet ("the <<launch>> is on") into plain and highlighted parts. */
export function snippetParts(snippet: string): { text: string; match: boolean }[] {
  const parts: { text: string; match: boolean }[] = [];
  const re = /<<(.*?)>>/g;
  let last = 0;
  for (let m = re.exec(snippet); m; m = re.exec(snippet)) {
    if (m.index > last) parts.push({ text: snippet.slice(last, m.index), match: false });
    parts.push({ text: m[1]!, match: true });
    last = m.index + m[0].length;
  }
  if (last < snippet.length) parts.push({ text: snippet.slice(last), match: false });
  return parts;
}

/** Initials for an avatar: "Ada Lovelace" -> "AL", "ada" -> "A". */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0]!, words[words.length - 1]!] : words;
  return letters.map((w) => Array.from(w)[0]!.toUpperCase()).join("") || "?";
}

/** A stable hue (0-359) for a user id, for avatar colours. */
export function hueOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 360;
}
