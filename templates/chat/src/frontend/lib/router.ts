/**
 * Client-side routes on the history API, without a router library:
 *   /                 the room list (on a phone; on a wide screen, a welcome beside it)
 *   /rooms/:roomId    a room (`#m-<messageId>` scrolls to a message, as search results link)
 *   /search?q=...     search results
 *   /join/:code       an invite link: the sign-in screen's "join" form
 * The production server answers index.html for any non-API path, so these survive a reload.
 */
import { useSyncExternalStore } from "react";

export type Route =
  | { name: "home" }
  | { name: "room"; roomId: string; messageId: string | null }
  | { name: "search"; q: string }
  | { name: "join"; code: string };

export function parseRoute(pathname: string, search = "", hash = ""): Route {
  const room = /^\/rooms\/([^/]+)\/?$/.exec(pathname);
  if (room) {
    const m = /^#m-(.+)$/.exec(hash);
    return {
      name: "room",
      roomId: decodeURIComponent(room[1]!),
      messageId: m ? decodeURIComponent(m[1]!) : null,
    };
  }
  const join = /^\/join\/([^/]+)\/?$/.exec(pathname);
  if (join) return { name: "join", code: decodeURIComponent(join[1]!) };
  if (/^\/search\/?$/.test(pathname)) {
    return { name: "search", q: new URLSearchParams(search).get("q") ?? "" };
  }
  return { name: "home" };
}

export function roomPath(roomId: string, messageId?: string): string {
  return `/rooms/${encodeURIComponent(roomId)}${messageId ? `#m-${encodeURIComponent(messageId)}` : ""}`;
}

export function searchPath(q: string): string {
  return `/search?${new URLSearchParams({ q })}`;
}

const listeners = new Set<() => void>();
let current = "";
let route: Route = { name: "home" };

function snapshot(): Route {
  const href = `${location.pathname}${location.search}${location.hash}`;
  if (href !== current) {
    current = href;
    route = parseRoute(location.pathname, location.search, location.hash);
  }
  return route;
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  const notify = () => listener();
  window.addEventListener("popstate", notify);
  window.addEventListener("hashchange", notify);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("popstate", notify);
    window.removeEventListener("hashchange", notify);
  };
}

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  if (path === `${location.pathname}${location.search}${location.hash}`) return;
  if (opts.replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  for (const l of listeners) l();
}

export function useRoute(): Route {
  return useSyncExternalStore(subscribe, snapshot, snapshot);
}

/** onClick for an `<a href>` that navigates in-app but keeps middle-click / ctrl-click. */
export function linkClick(path: string) {
  return (e: {
    button: number;
    metaKey: boolean;
    ctrlKey: boolean;
    shiftKey: boolean;
    altKey: boolean;
    preventDefault(): void;
  }) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(path);
  };
}
