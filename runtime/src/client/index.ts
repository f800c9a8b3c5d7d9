/**
 * `troupe/client`: call actors from Node 20+ or a browser.
 *
 * @example
 * import { createClient } from "troupe/client";
 * import type { registry } from "./actors";
 * const client = createClient<typeof registry>("http://localhost:6420");
 * const count = await client.counter.getOrCreate(["my-counter"]).increment(1);
 *
 * // A live connection: events, and actions over one WebSocket that reconnects by itself.
 * const conn = client.counter.getOrCreate(["my-counter"]).connect();
 * const stop = conn.on("count", (n) => console.log(n));
 * await conn.increment(1);
 * stop();
 * await conn.dispose();
 *
 * // Closes every connection and raw WebSocket the client opened; later calls fail.
 * await client.dispose();
 */
import { clientOver } from "./client.js";
import { httpTransport, resolveEndpoint } from "./http.js";
import type { Client } from "./types.js";

export interface ClientOptions {
  /** Server root (`http://host:6420`, `/api/troupe` is added) or the full API base URL. */
  endpoint?: string;
  /** Custom fetch (for tests or instrumentation). */
  fetch?: typeof fetch;
  /**
   * Headers added to every HTTP call (e.g. `Authorization`); actors read them from `c.request`
   * in onBeforeConnect / createConnState. Browsers cannot send headers on WebSockets: use params.
   */
  headers?: Record<string, string>;
}

export function createClient<R = any>(endpointOrOptions?: string | ClientOptions): Client<R> {
  const opts =
    typeof endpointOrOptions === "string"
      ? { endpoint: endpointOrOptions }
      : (endpointOrOptions ?? {});
  return clientOver<R>(httpTransport(resolveEndpoint(opts.endpoint), opts.fetch, opts.headers), {
    disposable: true,
  });
}

export type {
  EventArgs,
  EventName,
  EventSpec,
  EventsSpec,
  ListenerArgs,
} from "../actor/events.js";
export type { ConnectOptions } from "./connection.js";
export { ActorError } from "./errors.js";
export type {
  ActorAccessor,
  ActorActionFunction,
  ActorConn,
  ActorConnMethods,
  ActorErrorLike,
  ActorHandle,
  ActorHandleMethods,
  ActorNotify,
  ActorNotifyFunction,
  Client,
  ClientMethods,
  ConnStatus,
  CreateOptions,
  EventsOfActor,
  FetchOptions,
  GetOptions,
  GetOrCreateOptions,
  WebSocketOptions,
} from "./types.js";
