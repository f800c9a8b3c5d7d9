/**
 * How a client reaches actors. `http.ts` implements it over the network; the engine implements it
 * in-process for `c.client()`. Handles and accessors (`client.ts`) are written once against it.
 */

/** An actor address as sent on the wire (see runtime/PROTOCOL.md). */
export type WireQuery =
  | { name: string; key: string[]; mode: "get" | "getOrCreate" | "create"; input?: unknown }
  | { name: string; id: string };

/** The part of the browser WebSocket interface connections use (browsers, `ws`, in-process pairs). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(
    type: "open" | "message" | "close" | "error",
    listener: (event: any) => void,
  ): void;
  removeEventListener(
    type: "open" | "message" | "close" | "error",
    listener: (event: any) => void,
  ): void;
}

export interface Transport {
  /** `params` are connection parameters for actors that check them (see PROTOCOL.md). */
  action(query: WireQuery, action: string, args: unknown[], params?: unknown): Promise<unknown>;
  /**
   * Returns the actor id, creating the actor if the query's mode allows. `params` go to the
   * actor's creation and connection hooks.
   */
  resolve(query: WireQuery, params?: unknown): Promise<string>;
  fetch(actorId: string, path: string, init?: RequestInit): Promise<Response>;
  gatewayUrl(actorId: string): string;
  /** Opens the socket of a connection (PROTOCOL.md, "Connections"); the caller sends `init`. */
  openConnection(): Promise<WebSocketLike>;
  /** Opens a raw WebSocket to the actor's `onWebSocket`, resolving once it is open. */
  openRawWebSocket(
    actorId: string,
    path: string,
    protocols?: string | string[],
    opts?: { skipReadyWait?: boolean },
  ): Promise<WebSocketLike>;
}
