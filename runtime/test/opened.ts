// Shared by the typed-client tests: waiting for a connection to be open.
import type { ActorConnMethods } from "troupe/client";

/** Resolves once `conn` is connected (at once if it already is). */
export function opened(conn: ActorConnMethods): Promise<void> {
  if (conn.status === "connected") return Promise.resolve();
  return new Promise((resolve) => {
    const off = conn.onOpen(() => {
      off();
      resolve();
    });
  });
}
