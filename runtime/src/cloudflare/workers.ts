/**
 * The few Cloudflare Workers APIs `troupe/cloudflare` uses, typed here so that the runtime needs
 * no Workers type package (whose globals clash with Node's and the DOM's). Shapes follow the
 * Workers runtime documentation; only the members used are listed.
 */

export interface SqlCursor<T> extends Iterable<T> {
  toArray(): T[];
  one(): T;
}

export interface SqlStorage {
  exec<T = Record<string, SqlValue>>(query: string, ...bindings: SqlValue[]): SqlCursor<T>;
}

export type SqlValue = string | number | null | ArrayBuffer | Uint8Array;

export interface DurableObjectStorage {
  readonly sql: SqlStorage;
  transactionSync<T>(fn: () => T): T;
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<void>;
  deleteAlarm(): Promise<void>;
}

export interface DurableObjectId {
  toString(): string;
  equals(other: DurableObjectId): boolean;
}

export interface DurableObjectState {
  readonly id: DurableObjectId;
  readonly storage: DurableObjectStorage;
  /** WebSocket Hibernation API: events then arrive through the object's webSocket* methods. */
  acceptWebSocket(ws: WorkersWebSocket, tags?: string[]): void;
  getWebSockets(tag?: string): WorkersWebSocket[];
  blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>;
  waitUntil(promise: Promise<unknown>): void;
}

export interface DurableObjectStub {
  fetch(request: Request): Promise<Response>;
}

export interface DurableObjectNamespace {
  idFromName(name: string): DurableObjectId;
  idFromString(hex: string): DurableObjectId;
  get(id: DurableObjectId): DurableObjectStub;
}

/** The server end of a `WebSocketPair` (Workers' WebSocket, accepted in the Worker). */
export interface WorkersWebSocket {
  accept(): void;
  send(data: string | ArrayBuffer | Uint8Array): void;
  close(code?: number, reason?: string): void;
  readonly readyState: number;
  /** Hibernation API: a small value kept with the socket while the object is evicted. */
  serializeAttachment(value: unknown): void;
  deserializeAttachment(): unknown;
  addEventListener(
    type: "message",
    listener: (event: { data: string | ArrayBuffer }) => void,
  ): void;
  addEventListener(
    type: "close",
    listener: (event: { code: number; reason: string; wasClean: boolean }) => void,
  ): void;
  addEventListener(type: "error", listener: (event: unknown) => void): void;
}

/** `new WebSocketPair()`: index 0 goes back to the client in the 101 response, 1 stays here. */
export function webSocketPair(): [WorkersWebSocket, WorkersWebSocket] {
  const Pair = (globalThis as { WebSocketPair?: new () => Record<0 | 1, WorkersWebSocket> })
    .WebSocketPair;
  if (!Pair) throw new Error("troupe/cloudflare runs on Cloudflare Workers (or workerd) only.");
  const pair = new Pair();
  return [pair[0], pair[1]];
}

/** A 101 response handing the client end of a pair back (the `webSocket` init is Workers-only). */
export function upgradeResponse(client: WorkersWebSocket): Response {
  return new Response(null, { status: 101, webSocket: client } as ResponseInit);
}

/** The response's WebSocket after `stub.fetch()` of an upgrade, if the upgrade succeeded. */
export function responseWebSocket(response: Response): WorkersWebSocket | null {
  return (response as { webSocket?: WorkersWebSocket | null }).webSocket ?? null;
}
