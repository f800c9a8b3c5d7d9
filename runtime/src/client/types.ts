/**
 * Types of the typed client: `createClient<typeof registry>()` gives `client.counter` (an
 * accessor), whose handles expose each action with the actor's own parameter and return types.
 */

import type {
  ActionsOf,
  AnyActorDefinition,
  ConnParamsOf,
  EventsOf,
  InputOf,
} from "../actor/definition.js";
import type { EventName, EventsSpec, ListenerArgs } from "../actor/events.js";
import type { ConnectOptions } from "./connection.js";

/** A registry as the client sees it: only its actor definitions matter. */
export interface RegistryLike<TUse extends Record<string, AnyActorDefinition>> {
  readonly config: { readonly use: TUse };
}

export type ActorActionFunction<F> = F extends (c: any, ...args: infer A) => infer R
  ? (...args: A) => Promise<Awaited<R>>
  : never;

/**
 * An action called as a notification (`conn.notify.<action>(...)`): same arguments, no reply.
 * Returns whether the call was written to the socket (false while the connection is not open).
 */
export type ActorNotifyFunction<F> = F extends (c: any, ...args: infer A) => any
  ? (...args: A) => boolean
  : never;

/** `conn.notify`: every action of the actor, called without waiting for (or getting) a reply. */
export type ActorNotify<D> = {
  [K in keyof ActionsOf<D> & string]: ActorNotifyFunction<ActionsOf<D>[K]>;
};

export interface FetchOptions extends RequestInit {
  /** Deliver even while the actor is starting or stopping (see the client spec). */
  skipReadyWait?: boolean;
}

export interface ActorHandleMethods {
  /** The actor's id, creating the actor first if this handle came from getOrCreate. */
  resolve(): Promise<string>;
  /** Sends a raw HTTP request to the actor's `onRequest`. `path` is relative to the actor. */
  fetch(path: string | URL | Request, init?: FetchOptions): Promise<Response>;
  /** Base URL of the actor's raw HTTP gateway: `${url}/request/...` reaches `onRequest`. */
  getGatewayUrl(): Promise<string>;
  /** Calls an action by name (for dynamic names). */
  action(opts: { name: string; args?: unknown[] }): Promise<unknown>;
  /** Opens a live connection (WebSocket) that reconnects by itself. */
  connect(opts?: ConnectOptions): ActorConn<any>;
  /** Opens a raw WebSocket to the actor's `onWebSocket`. */
  webSocket(
    path?: string,
    protocols?: string | string[],
    opts?: WebSocketOptions,
  ): Promise<WebSocket>;
}

export type ConnStatus = "idle" | "connecting" | "connected" | "disconnected";

/**
 * Methods of a live connection. `TEvents` are the actor's declared events: listeners then get the
 * payload's type; for an actor without `events`, any name and `any` arguments. `TNotify` types
 * `notify` (the actor's actions).
 */
export interface ActorConnMethods<
  TEvents = EventsSpec,
  TNotify = { [action: string]: (...args: any[]) => boolean },
> {
  /** Listens for an event; returns a function that stops listening. */
  on<K extends EventName<TEvents>>(
    eventName: K,
    callback: (...args: ListenerArgs<TEvents, K>) => void,
  ): () => void;
  /** Listens for the next occurrence only. */
  once<K extends EventName<TEvents>>(
    eventName: K,
    callback: (...args: ListenerArgs<TEvents, K>) => void,
  ): () => void;
  onOpen(callback: () => void): () => void;
  onClose(callback: (event: { code: number; reason: string }) => void): () => void;
  onError(callback: (error: ActorErrorLike) => void): () => void;
  onStatusChange(callback: (status: ConnStatus) => void): () => void;
  readonly status: ConnStatus;
  /** Id given by the server at the last successful connect. */
  readonly connId: string | undefined;
  /** Calls an action by name (for dynamic names). */
  action(opts: { name: string; args?: unknown[] }): Promise<unknown>;
  /**
   * Calls an action without asking for a reply: `conn.notify.input(x)` runs `input` on the actor
   * as `conn.input(x)` would, but the server sends no result, so there is nothing to wait for.
   * Returns true when the call was written to the socket; while the connection is not open the
   * call is dropped (not queued) and it returns false. A failure reaches `onError`. Not in
   * RivetKit: a Troupe addition, for high-rate calls such as a game's inputs.
   */
  readonly notify: TNotify;
  /** Closes the connection for good; later calls fail with `connection_disposed`. */
  dispose(): Promise<void>;
}

export interface ActorErrorLike extends Error {
  readonly code: string;
  readonly metadata: unknown;
}

/** A live connection: every action of the actor, plus events and status. */
export type ActorConn<D> = {
  [K in keyof ActionsOf<D> & string]: ActorActionFunction<ActionsOf<D>[K]>;
} & ActorConnMethods<EventsOfActor<D>, ActorNotify<D>>;

/** The events of `D`, untyped for `any` (the untyped client) and actors without `events`. */
export type EventsOfActor<D> = 0 extends 1 & D ? EventsSpec : EventsOf<D>;

export interface WebSocketOptions {
  skipReadyWait?: boolean;
}

export type ActorHandle<D> = {
  [K in keyof ActionsOf<D> & string]: ActorActionFunction<ActionsOf<D>[K]>;
} & Omit<ActorHandleMethods, "connect"> & { connect(opts?: ConnectOptions): ActorConn<D> };

export type ActorKeyInput = string | string[];

export interface GetOptions<D> {
  params?: ConnParamsOf<D>;
  getParams?: () => ConnParamsOf<D> | Promise<ConnParamsOf<D>>;
}

export interface GetOrCreateOptions<D> extends GetOptions<D> {
  /** Input for `createState` / `onCreate`, used only if the actor has to be created. */
  createWithInput?: InputOf<D>;
}

export interface CreateOptions<D> extends GetOptions<D> {
  input?: InputOf<D>;
}

export interface ActorAccessor<D> {
  /** A handle to an existing actor; calls fail with `actor_not_found` if there is none. */
  get(key?: ActorKeyInput, opts?: GetOptions<D>): ActorHandle<D>;
  /** A handle that creates the actor on first use if it does not exist. */
  getOrCreate(key?: ActorKeyInput, opts?: GetOrCreateOptions<D>): ActorHandle<D>;
  /** Creates the actor now; fails with `actor_already_exists` if the key is taken. */
  create(key?: ActorKeyInput, opts?: CreateOptions<D>): Promise<ActorHandle<D>>;
  /** A handle to an actor by its id. */
  getForId(actorId: string, opts?: GetOptions<D>): ActorHandle<D>;
}

type IsAny<T> = 0 extends 1 & T ? true : false;

/** What a client has besides its accessors (names that `setup()` refuses for actors). */
export interface ClientMethods {
  /**
   * Closes every connection and raw WebSocket this client opened. Later calls through the client,
   * its accessors and handles fail with `client_disposed`. Calling it again does nothing.
   */
  dispose(): Promise<void>;
}

export type Client<R> = ClientMethods &
  (IsAny<R> extends true
    ? { [name: string]: ActorAccessor<any> }
    : R extends RegistryLike<infer U>
      ? { [N in keyof U]: ActorAccessor<U[N]> }
      : { [name: string]: ActorAccessor<any> });
