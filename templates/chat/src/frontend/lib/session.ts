/**
 * The chat's signed-in session: kept in localStorage under `troupe-chat:session` (every tab
 * shares it) by the `SessionStore` of `troupe/accounts/client`, which refreshes the short-lived
 * token before use and ends the session, with a reason, when the server refuses it. Here: the
 * chat's storage key and the sentences the sign-in screen shows for each reason.
 */
import type { SessionProblem } from "troupe/accounts/client";

export const SESSION_KEY = "troupe-chat:session";

export const PROBLEM_SENTENCES: Record<SessionProblem, string> = {
  invalid: "Your session is not valid any more. Please sign in again.",
  expired: "Your session expired. Please sign in again.",
  revoked: "You were signed out (this session was ended). Please sign in again.",
  removed: "You were removed from this organisation. Ask an admin if this is a mistake.",
};
