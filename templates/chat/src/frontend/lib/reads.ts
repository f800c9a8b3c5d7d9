/**
 * The signed-in person's read positions, live: their `chatReader` actor, shared by every device
 * (`readsChanged` arrives when another device reads). `markRead` only ever moves forward, and
 * skips calls that would change nothing.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type { RoomRead } from "../../actors/index.js";
import type { User } from "./api.js";
import { useChatActor } from "./chat.js";

export function useReads(user: User) {
  const reader = useChatActor("chatReader", [user.org, user.id]);
  const conn = reader.connection;
  const [reads, setReads] = useState<Record<string, RoomRead> | null>(null);
  const readsRef = useRef(reads);
  readsRef.current = reads;

  // Reloaded at every (re)connect: changes made meanwhile on other devices are in it.
  useEffect(() => {
    if (!reader.isConnected || !conn) return;
    let cancelled = false;
    conn.getReads().then(
      (r) => !cancelled && setReads(r),
      () => {},
    );
    return () => {
      cancelled = true;
    };
  }, [reader.isConnected, conn]);

  reader.useEvent("readsChanged", (e: { roomId: string; read: RoomRead }) =>
    setReads((prev) => ({ ...prev, [e.roomId]: e.read })),
  );

  const markRead = useCallback(
    (roomId: string, seq: number) => {
      if (!conn || !reader.isConnected) return;
      const current = readsRef.current?.[roomId];
      if (current && current.readSeq >= seq) return;
      conn.markRead(roomId, seq).then(
        (read) => setReads((prev) => ({ ...prev, [roomId]: read })),
        () => {}, // marked again with the next message or visit
      );
    },
    [conn, reader.isConnected],
  );

  return { reads, markRead };
}
