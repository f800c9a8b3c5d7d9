/**
 * The game's own HTTP routes. Errors are thrown as `ActorError` with the server's code (the
 * class the actor client throws), so `describeError` reads both; a failed fetch is
 * `network_error`.
 */
import { ActorError } from "troupe/client";
import type { StoredGuest } from "./storage.js";

export interface LeaderboardRow {
  rank: number;
  id: string;
  name: string;
  rating: number;
  games: number;
  wins: number;
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ActorError("network_error", `Could not reach ${path}.`, undefined, { cause: err });
  }
  const body = (await res.json().catch(() => null)) as
    | (T & { error?: { code?: string; message?: string } })
    | null;
  if (!res.ok || !body || body.error) {
    const e = body?.error;
    throw new ActorError(
      typeof e?.code === "string" ? e.code : res.status >= 500 ? "internal_error" : "bad_response",
      e?.message ?? `HTTP ${res.status} from ${path}`,
    );
  }
  return body;
}

export function createGuest(name: string): Promise<StoredGuest> {
  return request<StoredGuest>("/api/guest", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
}

export async function fetchLeaderboard(): Promise<LeaderboardRow[]> {
  return (await request<{ players: LeaderboardRow[] }>("/api/leaderboard")).players;
}
