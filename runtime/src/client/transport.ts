/**
 * How a client reaches actors. `http.ts` implements it over the network; the engine implements it
 * in-process for `c.client()`. Handles and accessors (`client.ts`) are written once against it.
 */

/** An actor address as sent on the wire (see runtime/PROTOCOL.md). */
export type WireQuery =
  | { name: string; key: string[]; mode: "get" | "getOrCreate" | "create"; input?: unknown }
  | { name: string; id: string };

export interface Transport {
  action(query: WireQuery, action: string, args: unknown[]): Promise<unknown>;
  /** Returns the actor id, creating the actor if the query's mode allows. */
  resolve(query: WireQuery): Promise<string>;
  fetch(actorId: string, name: string, path: string, init?: RequestInit): Promise<Response>;
  gatewayUrl(actorId: string): string;
}
