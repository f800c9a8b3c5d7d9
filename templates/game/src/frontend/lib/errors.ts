/** What to tell a person for an error code from the server or the client. */
const MESSAGES: Record<string, string> = {
  network_error: "Cannot reach the game server. Check your connection and try again.",
  connection_unavailable: "The connection to the game server is down. Try again in a moment.",
  database_unavailable: "The leaderboard database is unavailable right now; try again shortly.",
  ticket_expired: "Your seat in that match expired. Press Play for a new match.",
  ticket_invalid: "That match ticket is not valid. Press Play for a new match.",
  ticket_wrong_match: "That ticket is for another match. Press Play for a new match.",
  not_in_match: "You have no seat in that match. Press Play for a new match.",
  left_match: "You were away too long and lost your seat in that match.",
  match_over: "That match is over.",
  match_not_found: "That match does not exist any more.",
  input_flood: "Too many inputs from this tab: you were disconnected from the match.",
  afk: "You were idle too long and were disconnected from the match.",
  replaced: "You joined this match from another tab or window.",
  removed: "You were removed from the match after an error.",
};

export function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string; metadata?: { reason?: string } };
  const code = e?.code === "connection_closed" ? (e.metadata?.reason ?? e.code) : e?.code;
  if (code && MESSAGES[code]) return MESSAGES[code]!;
  if (e?.message) return e.message;
  return "Something went wrong.";
}

/** The reason code behind an error (a refusal's code, or the reason a connection was closed). */
export function reasonOf(err: unknown): string | undefined {
  const e = err as { code?: string; metadata?: { reason?: string } };
  return e?.code === "connection_closed" ? e.metadata?.reason : e?.code;
}
