/**
 * The app's singletons and the hook every live view uses. Connections get their token from
 * `getParams` (called before every connection attempt), never from static params, so a
 * reconnect after an hour uses a fresh token, and another tab's refresh is picked up.
 */
import { useCallback, useEffect, useState, useSyncExternalStore } from "react";
import { createRivetKit } from "troupe/react";
import type { ChatRegistry } from "../../actors/index.js";
import { refreshToken } from "./api.js";
import { errorCode } from "./errors.js";
import { problemOf, SessionStore } from "./session.js";

export const { useActor } = createRivetKit<ChatRegistry>();

export const sessionStore = new SessionStore({
  storage: window.localStorage,
  refresh: refreshToken,
});
window.addEventListener("storage", (e) => sessionStore.onStorage(e.key));

export const getParams = async () => ({ token: await sessionStore.freshToken() });

export function useSession() {
  return useSyncExternalStore(sessionStore.subscribe, sessionStore.getSnapshot);
}

// ---- reconnecting connections, for the banner -------------------------------------------------

const reconnecting = new Set<string>();
const reconnectListeners = new Set<() => void>();

function setReconnecting(id: string, value: boolean): void {
  const had = reconnecting.has(id);
  if (value === had) return;
  if (value) reconnecting.add(id);
  else reconnecting.delete(id);
  for (const l of reconnectListeners) l();
}

/** Whether any live view lost its connection and is getting it back. */
export function useAnyReconnecting(): boolean {
  return useSyncExternalStore(
    (l) => {
      reconnectListeners.add(l);
      return () => reconnectListeners.delete(l);
    },
    () => reconnecting.size > 0,
  );
}

type ChatActorName = "chatRoom" | "chatRoomList";

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
  const id = `${name}:${key.join("/")}`;

  useEffect(() => {
    if (actor.isConnected) setEverConnected(true);
  }, [actor.isConnected]);

  const isReconnecting =
    everConnected &&
    !actor.isConnected &&
    (paused || actor.connStatus === "connecting" || actor.connStatus === "idle");
  useEffect(() => {
    setReconnecting(id, isReconnecting);
  }, [id, isReconnecting]);
  useEffect(() => () => setReconnecting(id, false), [id]);

  const retry = useCallback(() => {
    // A new hash (enabled: false) drops the shared connection; the next render opens a new one.
    setPaused(true);
    setTimeout(() => setPaused(false), 50);
  }, []);

  const code = errorCode(actor.error);
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
