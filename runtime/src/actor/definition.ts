/**
 * `actor({...})`: an actor's definition. It only captures the config; instances are made by the
 * registry's engine. The generic parameters are inferred from the config so that contexts and the
 * typed client know the state, connection, vars, input and action types.
 *
 * @example
 * const counter = actor({
 *   state: { count: 0 },
 *   actions: { increment: (c, amount: number) => (c.state.count += amount) },
 * });
 */
import type {
  ActionContext,
  ActorContext,
  BeforeCreateContext,
  BeforeCreateOptions,
  Conn,
  ConnContext,
  InitContext,
} from "./context.js";
import type { EventsSpec } from "./events.js";
import type { ActorOptions } from "./options.js";

export type AnyActionFn = (c: any, ...args: any[]) => any;

export type Actions<TState, TConnParams, TConnState, TVars, TInput, TEvents = EventsSpec> = Record<
  string,
  (c: ActionContext<TState, TConnParams, TConnState, TVars, TInput, TEvents>, ...args: any[]) => any
>;

export interface ActorConfig<
  TState,
  TConnParams,
  TConnState,
  TVars,
  TInput,
  TActions extends Actions<TState, TConnParams, TConnState, TVars, TInput, TEvents>,
  TEvents = EventsSpec,
> {
  /**
   * Authorises creation: runs before a new actor is created (before `createState`, before
   * anything is stored) on every path that can create one — HTTP `resolve` and actions with
   * `getOrCreate` / `create`, WebSocket `init`, and `c.client()` calls that pass `params`.
   * Throw (e.g. a `UserError`) to refuse: nothing is stored and the caller gets the error.
   * In-process calls without `params` are trusted server code and skip it.
   */
  onBeforeCreate?: (c: BeforeCreateContext, opts: BeforeCreateOptions) => void | Promise<void>;
  /** Initial state, copied for every new actor. Ignored when `createState` is given. */
  state?: TState;
  /** Builds the initial state from the creation input. Runs once, when the actor is created. */
  createState?: (c: InitContext, input: TInput) => TState | Promise<TState>;
  /** Runs once after the actor is created, before its first wake. */
  onCreate?: (
    c: ActorContext<TState, TConnParams, TConnState, TVars, TInput, TEvents>,
    input: TInput,
  ) => void | Promise<void>;
  /** Initial ephemeral vars, copied with `structuredClone` on every wake. */
  vars?: TVars;
  createVars?: (c: InitContext, driverCtx: any) => TVars | Promise<TVars>;
  /** Initial state of each connection. */
  connState?: TConnState;
  createConnState?: (
    c: ActorContext<TState, TConnParams, TConnState, TVars, TInput, TEvents> & {
      request?: Request;
    },
    params: TConnParams,
  ) => TConnState | Promise<TConnState>;
  onBeforeConnect?: (
    c: ActorContext<TState, TConnParams, TConnState, TVars, TInput, TEvents> & {
      request?: Request;
    },
    params: TConnParams,
  ) => void | Promise<void>;
  /** After a client connected; `c.conn` is the new connection. */
  onConnect?: (
    c: ConnContext<TState, TConnParams, TConnState, TVars, TInput, TEvents>,
    conn: Conn<TConnParams, TConnState, TEvents>,
  ) => void | Promise<void>;
  /** After a connection ended, however it ended; `c.conn` is that connection. */
  onDisconnect?: (
    c: ConnContext<TState, TConnParams, TConnState, TVars, TInput, TEvents>,
    conn: Conn<TConnParams, TConnState, TEvents>,
  ) => void | Promise<void>;
  /** Runs on every start: after creation, and after each sleep, restart or crash. */
  onWake?: (
    c: ActorContext<TState, TConnParams, TConnState, TVars, TInput, TEvents>,
  ) => void | Promise<void>;
  onSleep?: (
    c: ActorContext<TState, TConnParams, TConnState, TVars, TInput, TEvents>,
  ) => void | Promise<void>;
  onDestroy?: (
    c: ActorContext<TState, TConnParams, TConnState, TVars, TInput, TEvents>,
  ) => void | Promise<void>;
  /** Called after state changes (once per burst of synchronous changes). Cannot be async. */
  onStateChange?: (
    c: ActorContext<TState, TConnParams, TConnState, TVars, TInput, TEvents>,
    newState: TState,
  ) => void;
  onBeforeActionResponse?: <Out>(
    c: ActorContext<TState, TConnParams, TConnState, TVars, TInput, TEvents>,
    actionName: string,
    args: unknown[],
    output: Out,
  ) => Out | Promise<Out>;
  /** Raw HTTP requests sent through `handle.fetch()`. */
  onRequest?: (
    c: ActorContext<TState, TConnParams, TConnState, TVars, TInput, TEvents>,
    request: Request,
  ) => Response | undefined | void | Promise<Response | undefined | void>;
  /** Raw WebSockets opened with `handle.webSocket(path)`; `opts.request` carries the path. */
  onWebSocket?: (
    c: ActorContext<TState, TConnParams, TConnState, TVars, TInput, TEvents>,
    websocket: WebSocket,
    opts: { request: Request },
  ) => void | Promise<void>;
  actions: TActions;
  /**
   * The events this actor sends, with their payload types (`{ moved: event<Position>() }`). Then
   * `c.broadcast` and `conn.send` accept only these, and clients type their listeners. Optional:
   * without it any name and arguments go, untyped (events.ts).
   */
  events?: TEvents;
  options?: Partial<ActorOptions>;
}

/** What `actor()` returns. The type parameters carry the inferred types to clients and helpers. */
export class ActorDefinition<
  TState = any,
  TConnParams = any,
  TConnState = any,
  TVars = any,
  TInput = any,
  TActions extends Actions<TState, TConnParams, TConnState, TVars, TInput, TEvents> = any,
  TEvents = EventsSpec,
> {
  readonly config: ActorConfig<TState, TConnParams, TConnState, TVars, TInput, TActions, TEvents>;
  constructor(
    config: ActorConfig<TState, TConnParams, TConnState, TVars, TInput, TActions, TEvents>,
  ) {
    this.config = config;
  }
}

export type AnyActorDefinition = ActorDefinition<any, any, any, any, any, any, any>;

export function actor<
  TState,
  TConnParams,
  TConnState,
  TVars,
  TInput,
  // Before TActions and without a default: otherwise TypeScript fixes the state type before it
  // has read `createState`'s return (keys.test.ts's `createState: (c) => ...` turns unknown).
  // Without `events` it is inferred as its constraint, EventsSpec: untyped.
  TEvents extends EventsSpec,
  TActions extends Actions<TState, TConnParams, TConnState, TVars, TInput, TEvents>,
>(
  config: ActorConfig<TState, TConnParams, TConnState, TVars, TInput, TActions, TEvents>,
): ActorDefinition<TState, TConnParams, TConnState, TVars, TInput, TActions, TEvents> {
  if (!config || typeof config !== "object") {
    throw new TypeError("actor() expects a config object with an `actions` field.");
  }
  // `state` next to `createState` (and the same for vars and connState) is allowed, as in the
  // spec's full lifecycle example: the constant then only serves as a type hint; the function wins.
  for (const [name, fn] of Object.entries(config.actions ?? {})) {
    if (typeof fn !== "function") throw new TypeError(`Action "${name}" is not a function.`);
  }
  const { events } = config;
  if (events !== undefined && (typeof events !== "object" || !events || Array.isArray(events))) {
    throw new TypeError(
      "actor(): `events` must be an object of declarations, e.g. { moved: event<Position>() }.",
    );
  }
  return new ActorDefinition(config);
}

// ---- helper types --------------------------------------------------------------------------

type Params<D> =
  D extends ActorDefinition<infer S, infer CP, infer CS, infer V, infer I, any, infer E>
    ? [S, CP, CS, V, I, E]
    : never;

/** The context type of an actor's hooks, for helper functions. */
export type ActorContextOf<D> =
  Params<D> extends [infer S, infer CP, infer CS, infer V, infer I, infer E]
    ? ActorContext<S, CP, CS, V, I, E>
    : never;

/** The context type of an actor's actions, for helper functions. */
export type ActionContextOf<D> =
  Params<D> extends [infer S, infer CP, infer CS, infer V, infer I, infer E]
    ? ActionContext<S, CP, CS, V, I, E>
    : never;

export type ActorStateOf<D> = Params<D>[0];
export type ConnParamsOf<D> = Params<D>[1];
export type ConnStateOf<D> = Params<D>[2];
export type VarsOf<D> = Params<D>[3];
export type InputOf<D> = Params<D>[4];
export type ActionsOf<D> =
  D extends ActorDefinition<any, any, any, any, any, infer A, any> ? A : never;
/** The actor's declared `events` (EventsSpec, untyped, when it declares none). */
export type EventsOf<D> = Params<D>[5];
