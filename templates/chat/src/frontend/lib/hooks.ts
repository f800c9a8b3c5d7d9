import { useEffect, useState } from "react";

/** The current time, updated every `intervalMs` (for "5 min ago" labels). */
export function useNow(intervalMs = 30_000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}

const SEEN_KEY = "troupe-chat:seen";

/** When this browser last looked at each room (for unread marks), kept in localStorage. */
export function loadSeen(): Record<string, number> {
  try {
    return JSON.parse(localStorage.getItem(SEEN_KEY) ?? "{}") as Record<string, number>;
  } catch {
    return {};
  }
}

export function markSeen(roomId: string, at = Date.now()): void {
  try {
    const seen = loadSeen();
    seen[roomId] = at;
    localStorage.setItem(SEEN_KEY, JSON.stringify(seen));
    window.dispatchEvent(new Event("troupe-chat:seen"));
  } catch {
    // not essential
  }
}
