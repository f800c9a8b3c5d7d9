/**
 * Unread counts, from what the room list says of each room (`lastSeq`, its newest message) and
 * what the person's `chatReader` says (`readSeq` and their own messages after it). Own messages
 * never count; a room the person left counts nothing.
 *
 * @example
 * unreadCount(12, { readSeq: 9, ownSeqs: [11], left: false, at }) // 2
 * unreadLabel(250) // "99+"
 */
import type { RoomRead, RoomSummary } from "../../actors/index.js";

/** From this many on, a count is shown as "99+". */
export const UNREAD_CAP = 100;

export function unreadCount(lastSeq: number, read: RoomRead | undefined): number {
  if (read?.left) return 0;
  const readSeq = read?.readSeq ?? 0;
  if (lastSeq <= readSeq) return 0;
  const own = read ? read.ownSeqs.filter((s) => s > readSeq && s <= lastSeq).length : 0;
  return Math.max(0, lastSeq - readSeq - own);
}

/** "7", or "99+" from `UNREAD_CAP` on; empty for none. */
export function unreadLabel(count: number): string {
  if (count <= 0) return "";
  return count >= UNREAD_CAP ? `${UNREAD_CAP - 1}+` : String(count);
}

/** Unread counts by room id; the open room counts nothing (it is being read). */
export function unreadByRoom(
  rooms: readonly RoomSummary[],
  reads: Readonly<Record<string, RoomRead>>,
  openRoomId: string | null,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rooms)
    out[r.id] = r.id === openRoomId ? 0 : unreadCount(r.lastSeq ?? 0, reads[r.id]);
  return out;
}

/** The page title: "(3) Troupe chat" with unread messages, else the plain name. */
export function pageTitle(totalUnread: number, base = "Troupe chat"): string {
  return totalUnread > 0 ? `(${unreadLabel(totalUnread)}) ${base}` : base;
}
