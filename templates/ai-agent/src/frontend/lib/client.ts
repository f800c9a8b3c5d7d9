/**
 * The app's singletons: the signed-in session (`troupe/accounts/client`'s `SessionStore`, in
 * localStorage so every tab shares it), the React hooks over the typed client, and the token
 * every connection asks for before each attempt (`getParams`), so a reconnect uses a fresh one.
 */
import { useEffect, useSyncExternalStore } from "react";
import { problemOf, refreshToken, type SessionProblem, SessionStore } from "troupe/accounts/client";
import { createRivetKit } from "troupe/react";
import type { AgentRegistry } from "../../actors/index.js";

export const SESSION_KEY = "troupe-ai-agent:session";

export const { useActor } = createRivetKit<AgentRegistry>();

export const sessionStore = new SessionStore({
  storageKey: SESSION_KEY,
  storage: window.localStorage,
  refresh: refreshToken,
});
window.addEventListener("storage", (e) => sessionStore.onStorage(e.key));

export const getParams = async () => ({ token: await sessionStore.freshToken() });

export function useSession() {
  return useSyncExternalStore(sessionStore.subscribe, sessionStore.getSnapshot);
}

export const PROBLEM_SENTENCES: Record<SessionProblem, string> = {
  invalid: "Your session is not valid any more. Please sign in again.",
  expired: "Your session expired. Please sign in again.",
  revoked: "You were signed out (this session was ended). Please sign in again.",
  removed: "You were removed from this organisation. Ask an admin if this is a mistake.",
};

/** A sentence for any error: the server's message when it has one. */
export function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e?.code === "network_error") return "The server cannot be reached. Check your connection.";
  if (typeof e?.message === "string" && e.message) return e.message;
  return "Something went wrong.";
}

/**
 * The code that ended a connection: the client reports a close by the server as
 * `connection_closed` with the reason (a signed-out or removed person's code) in its metadata.
 */
export function reasonCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; metadata?: { reason?: unknown } | null } | null;
  if (typeof e?.code !== "string") return undefined;
  if (e.code !== "connection_closed") return e.code;
  return typeof e.metadata?.reason === "string" ? e.metadata.reason : e.code;
}

/**
 * Ends the session when a connection is refused for it (signed out elsewhere, removed, a token
 * the server does not accept), so the sign-in screen says why; an expired token is refreshed.
 */
export function useSessionGuard(error: unknown): void {
  const code = reasonCode(error);
  useEffect(() => {
    if (!code) return;
    if (code === "token_expired") {
      sessionStore.refreshNow().catch(() => {});
      return;
    }
    const problem = problemOf(code);
    if (problem) sessionStore.end(problem);
  }, [code]);
}
