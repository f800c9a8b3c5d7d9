/** Two pages: `/` (the game) and `/leaderboard`, with the History API. */
import { useSyncExternalStore } from "react";

export type Route = "game" | "leaderboard";

const listeners = new Set<() => void>();
window.addEventListener("popstate", () => {
  for (const l of listeners) l();
});

export function routeOf(pathname: string): Route {
  return pathname.replace(/\/+$/, "") === "/leaderboard" ? "leaderboard" : "game";
}

export function navigate(route: Route): void {
  const path = route === "leaderboard" ? "/leaderboard" : "/";
  if (window.location.pathname !== path) window.history.pushState(null, "", path);
  for (const l of listeners) l();
}

export function useRoute(): Route {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => routeOf(window.location.pathname),
  );
}
