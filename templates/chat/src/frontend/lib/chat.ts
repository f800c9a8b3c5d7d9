/**
 * The app's singletons and the hook every live view uses. Connections get their token from
 * `getParams` (called before every connection attempt), never from static params, so a
 * reconnect after an hour uses a fresh token, and another tab's refresh is picked up.
 */
import { useCallback, useEffect, useState, useSyncExternalStore } from "react";
import { problemOf, SessionStore } from "troupe/accounts/client";
import { createRivetKit } from "troupe/react";
import type { ChatRegistry } from "../../actors/index.js";
import { refreshToken } from "./api.js";
import { reasonCode } from "./errors.js";
import { SEND_WAIT_SECONDS } from "./pending.js";
import { ReconnectTracker } from "./reconnecting.js";
import { SESSION_KEY } from "./session.js";

/**
 * Every connection waits `SEND_WAIT_SECONDS` for the server before a call (a send) fails: the
 * banner and the "Not sent" note say that figure, so it is the rule, not a copy of the client's
 * default.
 */
const CONNECT_OPTIONS = { queueTimeout: SEND_WAIT_SECONDS * 1000 };

export const { useActor } = createRivetKit<ChatRegistry>(undefined, { connect: CONNECT_OPTIONS });

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

// ---- reconnecting connections, for the banner -------------------------------------------------

const reconnecting = new ReconnectTracker();

/** Whether any live view lost its connection and is getting it back. */
export function useAnyReconnecting(): boolean {
  return useSyncExternalStore(reconnecting.subscribe, reconnecting.any);
}

type ChatActorName = "chatRoom" | "chatRoomList" | "chatReader";

/**
 * `useActor` for the chat's actors, plus what every view needs around it:
 * - `reconnecting`: connected once, now trying again (drives the banner);
 * - `failure`: the error that ended the connection for good (e.g. `room_not_found`);
 * - session handling: a refused token ends the session (`invalid_token`, `auth_required`) or is
 *   refreshed and the connection opened anew (`token_expired`). A connection whose token expires
 *   while open is closed by the server with the reconnect code: the client calls `getParams`,
 *   which refreshes the token, and comes back by itself; if the refresh is refused (signed out,
 *   removed), the session ends and the sign-in screen says why;
 * - `retry()`: a fresh connection after a final failure (a refused connection stays refused).
 */
export function useChatActor<N extends ChatActorName>(name: N, key: string[]) {
  const [paused, setPaused] = useState(false);
  const actor = useActor({ name, key, getParams, enabled: !paused });
  const [everConnected, setEverConnected] = useState(false);
  /** This view's own entry in the tracker (see lib/reconnecting.ts). */
  const [me] = useState(() => ({}));

  useEffect(() => {
    if (actor.isConnected) setEverConnected(true);
  }, [actor.isConnected]);

  const isReconnecting =
    everConnected &&
    !actor.isConnected &&
    (paused || actor.connStatus === "connecting" || actor.connStatus === "idle");
  useEffect(() => {
    reconnecting.set(me, isReconnecting);
  }, [me, isReconnecting]);
  useEffect(() => () => reconnecting.set(me, false), [me]);

  const retry = useCallback(() => {
    // A new hash (enabled: false) drops the shared connection; the next render opens a new one.
    setPaused(true);
    setTimeout(() => setPaused(false), 50);
  }, []);

  // A signed-out or removed person's connection is closed with the reason as its code.
  const code = reasonCode(actor.error);
  useEffect(() => {
    if (!code) return;
    if (code === "token_expired") {
      // Ends the session itself if the refresh is refused too.
      sessionStore.refreshNow().then(retry, () => {});
    } else {
      const problem = problemOf(code);
      if (problem) sessionStore.end(problem);
    }
  }, [code, retry]);

  const failure =
    actor.connStatus === "disconnected" && !paused && code !== "token_expired" ? actor.error : null;
  return { ...actor, reconnecting: isReconnecting, failure, retry };
}
