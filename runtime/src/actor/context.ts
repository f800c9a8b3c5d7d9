/**
 * The context types handed to actions and lifecycle hooks (`c`). Implemented by
 * `instance/context.ts`; declared here so definitions and helper types can name them.
 */
import type { Client } from "../client/types.js";
import type { Logger } from "../log.js";
import type { EventArgs, EventName, EventsSpec } from "./events.js";
import type { ActorKv } from "./kv-types.js";

export interface Conn<TConnParams = unknown, TConnState = unknown, TEvents = EventsSpec> {
  readonly id: string;
  readonly params: TConnParams;
  state: TConnState;
  /** Sends an event to this connection only (a declared one, when the actor has `events`). */
  send<K extends EventName<TEvents>>(eventName: K, ...args: EventArgs<TEvents, K>): void;
  /**
   * Closes this connection, telling the client why. By default the client does not come back
   * (close 4000). With `{ reconnect: true }` (close 4003) it calls `getParams()` again and
   * reconnects at once: for a connection whose credentials expired (e.g. a token's `exp`).
   */
  disconnect(reason?: string, opts?: { reconnect?: boolean }): Promise<void>;
}

export interface ScheduledAction {
  id: string;
  /** When it runs (ms since epoch). */
  at: number;
  action: string;
  args: unknown[];
}

/**
 * `c.schedule`: durable alarms. They are stored with the actor (so they survive restarts and
 * crashes), wake a sleeping actor, and run at least once. `cancel` and `list` go beyond the
 * spec's `after`/`at`, which resolve with the new alarm's id once it is stored.
 */
export interface Schedule {
  /** Runs `action(...args)` after `ms` milliseconds. */
  after(ms: number, action: string, ...args: unknown[]): Promise<string>;
  /** Runs `action(...args)` at `timestamp` (ms since epoch). */
  at(timestamp: number, action: string, ...args: unknown[]): Promise<string>;
  /** Removes a pending alarm; false if it already ran or never existed. */
  cancel(id: string): boolean;
  /** Pending alarms, soonest first. */
  list(): ScheduledAction[];
}

export interface ActorContext<
  TState = any,
  TConnParams = any,
  TConnState = any,
  TVars = any,
  TInput = any,
  TEvents = EventsSpec,
> {
  /** Persistent state. Changes are tracked and written to storage. */
  state: TState;
  /** Ephemeral variables: never persisted, rebuilt by `createVars` on every wake. */
  vars: TVars;
  readonly key: string[];
  readonly name: string;
  readonly actorId: string;
  readonly region: string;
  readonly kv: ActorKv;
  readonly log: Logger;
  /** Live connections, by connection id. */
  readonly conns: Map<string, Conn<TConnParams, TConnState, TEvents>>;
  /** Fires when the actor starts to sleep or is destroyed. */
  readonly abortSignal: AbortSignal;
  readonly schedule: Schedule;
  /** Sends an event to every connection subscribed to it (a declared one, when the actor has `events`). */
  broadcast<K extends EventName<TEvents>>(eventName: K, ...args: EventArgs<TEvents, K>): void;
  /**
   * Writes the state now. Resolves once it is durable. `immediate` is accepted for compatibility:
   * every save is written with the next group commit, which happens within one event-loop turn.
   */
  saveState(opts?: { immediate?: boolean }): Promise<void>;
  /** Destroys the actor for good after the current action: runs `onDestroy`, deletes its data. */
  destroy(): void;
  /** Asks the actor to sleep as soon as it is idle. */
  sleep(): void;
  /** Keeps the actor awake until the promise settles (bounded by `waitUntilTimeout` at stop). */
  waitUntil(promise: Promise<unknown>): void;
  /** Same as `waitUntil`; errors are logged. */
  runInBackground(promise: Promise<unknown>): void;
  /** A client that calls other actors of this registry in-process. */
  client<R = any>(): Client<R>;
  /** Phantom: carries the input type for helper types. */
  readonly __input?: TInput;
}

export interface ActionContext<
  TState = any,
  TConnParams = any,
  TConnState = any,
  TVars = any,
  TInput = any,
  TEvents = EventsSpec,
> extends ActorContext<TState, TConnParams, TConnState, TVars, TInput, TEvents> {
  /**
   * The connection that called this action. Undefined for calls without one: scheduled actions
   * (alarms), trusted in-process calls (`c.client()` or the server's in-process client without
   * `params`), and HTTP calls without params to actors without connection hooks. See
   * runtime/README.md, "Connections", for why this is not always defined.
   */
  readonly conn: Conn<TConnParams, TConnState, TEvents> | undefined;
}

/**
 * Context of `onConnect` and `onDisconnect`: an action context whose `c.conn` is the connection
 * being opened or closed, so always defined.
 */
export interface ConnContext<
  TState = any,
  TConnParams = any,
  TConnState = any,
  TVars = any,
  TInput = any,
  TEvents = EventsSpec,
> extends ActionContext<TState, TConnParams, TConnState, TVars, TInput, TEvents> {
  readonly conn: Conn<TConnParams, TConnState, TEvents>;
}

/**
 * Context of `onBeforeCreate`: the actor does not exist yet, so there is no state, vars or
 * connection, only what the address says and what the caller sent.
 */
export interface BeforeCreateContext {
  readonly name: string;
  readonly key: string[];
  readonly region: string;
  readonly log: Logger;
  /** The HTTP request or WebSocket upgrade that asked for the actor; undefined in-process. */
  readonly request: Request | undefined;
  /** A client that calls other actors of this registry in-process. */
  client<R = any>(): Client<R>;
}

/**
 * What `onBeforeCreate` is told about the actor about to be created and its creator. `input` and
 * `params` are `unknown` on purpose: they come from the caller, unchecked, and this hook is where
 * they get checked (typing them would also make TypeScript fix the actor's type parameters from
 * this hook instead of from `createState` / `createConnState`).
 */
export interface BeforeCreateOptions {
  key: string[];
  /** The creation input the caller sent (untrusted: check it against the key). */
  input: unknown;
  /** The caller's connection params (e.g. its token); undefined when it sent none. */
  params: unknown;
  request: Request | undefined;
}

/**
 * Context of `createState` and `createVars`. Deliberately not generic: their return types are
 * what TypeScript infers the state and vars types from, so their context cannot depend on them.
 */
export type InitContext = Omit<ActorContext<unknown, unknown, unknown, unknown, unknown>, "vars">;
export type CreateVarsContext = InitContext;
