/**
 * `troupe/react`: React hooks over the typed client, with the names and shapes of
 * `@rivetkit/react`. One shared connection per (actor, key, params) for the whole app: components
 * asking for the same actor reuse it, and it is closed when the last of them unmounts (or when
 * their key changes), so no socket outlives the components that use it.
 *
 * @example
 * const { useActor } = createRivetKit<typeof registry>();
 * function Counter() {
 *   const counter = useActor({ name: "counter", key: ["main"] });
 *   const [count, setCount] = useState(0);
 *   counter.useEvent("count", setCount);
 *   return <button onClick={() => counter.connection?.increment(1)}>{count}</button>;
 * }
 */
import { useEffect, useRef, useSyncExternalStore } from "react";
import type { ConnParamsOf, InputOf } from "../actor/definition.js";
import type { EventName, ListenerArgs } from "../actor/events.js";
import { type ClientOptions, type ConnectOptions, createClient } from "../client/index.js";
import type {
  ActorConn,
  ActorErrorLike,
  ActorHandle,
  Client,
  ConnStatus,
  EventsOfActor,
  RegistryLike,
} from "../client/types.js";

type DefsOf<R> = R extends RegistryLike<infer U> ? U : Record<string, any>;

export interface ActorOptions<R, N extends keyof DefsOf<R>> {
  name: N;
  key?: string | string[];
  /** Connection params (e.g. an auth token). Compared by value: a new object with the same content keeps the connection. */
  params?: ConnParamsOf<DefsOf<R>[N]>;
  /** Called before every connection attempt (fresh tokens); takes precedence over `params`. */
  getParams?: () => ConnParamsOf<DefsOf<R>[N]> | Promise<ConnParamsOf<DefsOf<R>[N]>>;
  createWithInput?: InputOf<DefsOf<R>[N]>;
  /** `false` keeps the hook idle (no connection). Default true. */
  enabled?: boolean;
}

export interface ActorState<R, N extends keyof DefsOf<R>> {
  /** The live connection, once the hook has mounted (null while disabled). */
  connection: ActorConn<DefsOf<R>[N]> | null;
  handle: ActorHandle<DefsOf<R>[N]> | null;
  connStatus: ConnStatus;
  isConnected: boolean;
  isConnecting: boolean;
  isError: boolean;
  /** The last connection error (a refused connect, say), cleared when it connects again. */
  error: ActorErrorLike | null;
  hash: string;
  opts: ActorOptions<R, N>;
}

export interface UseActorResult<R, N extends keyof DefsOf<R>> extends ActorState<R, N> {
  /**
   * Subscribes to an actor event for the life of the calling component. The handler gets the
   * payload type the actor declared in `events` (`any` for an actor without `events`).
   */
  useEvent<K extends EventName<EventsOfActor<DefsOf<R>[N]>>>(
    eventName: K,
    handler: (...args: ListenerArgs<EventsOfActor<DefsOf<R>[N]>, K>) => void,
  ): void;
}

export interface CreateRivetKitOptions {
  /** How long an unused connection lingers before it is closed (ms). Default 0 (next tick), which also survives React StrictMode's double mount. */
  disposeDelay?: number;
  /**
   * The tunables of every connection the hooks open (`handle.connect(opts)`), e.g.
   * `queueTimeout`, how long an action waits for a connection before it fails: an app that tells
   * its users how long a send waits passes its own figure here, so words and rule agree.
   */
  connect?: ConnectOptions;
}

class SharedActor {
  snapshot: ActorState<any, any>;
  private refs = 0;
  private readonly listeners = new Set<() => void>();
  private disposeTimer: ReturnType<typeof setTimeout> | undefined;
  private offs: (() => void)[] = [];
  latestOpts: ActorOptions<any, any>;

  constructor(
    private readonly client: Client<any>,
    readonly hash: string,
    opts: ActorOptions<any, any>,
    private readonly disposeDelay: number,
    private readonly connectOptions: ConnectOptions | undefined,
    private readonly forget: (entry: SharedActor) => void,
  ) {
    this.latestOpts = opts;
    this.snapshot = {
      connection: null,
      handle: null,
      connStatus: "idle",
      isConnected: false,
      isConnecting: false,
      isError: false,
      error: null,
      hash,
      opts,
    };
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): ActorState<any, any> => this.snapshot;

  private update(patch: Partial<ActorState<any, any>>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const l of this.listeners) l();
  }

  mount(): () => void {
    this.refs++;
    if (this.disposeTimer !== undefined) clearTimeout(this.disposeTimer);
    this.disposeTimer = undefined;
    // A connection that ended for good (refused, say) is replaced when a component mounts again:
    // remounting is how a UI retries, e.g. after the user signed in anew.
    const current = this.snapshot.connection;
    if (this.latestOpts.enabled !== false && (!current || current.status === "disconnected")) {
      if (current) this.release();
      this.open();
    }
    return () => {
      this.refs--;
      if (this.refs > 0) return;
      this.disposeTimer = setTimeout(() => {
        if (this.refs === 0) this.dispose();
      }, this.disposeDelay);
    };
  }

  private open(): void {
    const o = this.latestOpts;
    const accessor = (this.client as Record<string, any>)[o.name as string];
    const hasGetParams = typeof o.getParams === "function";
    const handle = accessor.getOrCreate(o.key ?? [], {
      params: o.params,
      // Always read the latest render's function, so a fresh token is used on reconnect.
      getParams: hasGetParams ? () => this.latestOpts.getParams!() : undefined,
      createWithInput: o.createWithInput,
    });
    const connection = handle.connect(this.connectOptions) as ActorConn<any>;
    this.offs = [
      connection.onStatusChange((status) =>
        this.update({
          connStatus: status,
          isConnected: status === "connected",
          isConnecting: status === "connecting",
          ...(status === "connected" ? { error: null, isError: false } : {}),
        }),
      ),
      connection.onError((error) => this.update({ error, isError: true })),
    ];
    this.update({
      handle,
      connection,
      connStatus: connection.status,
      isConnected: connection.status === "connected",
      isConnecting: connection.status === "connecting",
    });
  }

  private dispose(): void {
    this.forget(this);
    this.release();
  }

  /** Stops listening to the current connection and closes it. */
  private release(): void {
    for (const off of this.offs) off();
    this.offs = [];
    const connection = this.snapshot.connection;
    if (connection) void connection.dispose();
  }
}

/** Builds the hooks for a registry; `clientInput` is what `createClient` takes. */
export function createRivetKit<R = any>(
  clientInput?: string | ClientOptions,
  opts: CreateRivetKitOptions = {},
) {
  return createRivetKitWithClient<R>(createClient<R>(clientInput), opts);
}

/** Same as createRivetKit, with a client you made yourself. */
export function createRivetKitWithClient<R = any>(
  client: Client<R>,
  opts: CreateRivetKitOptions = {},
) {
  const entries = new Map<string, SharedActor>();
  const disposeDelay = opts.disposeDelay ?? 0;

  function entryFor(options: ActorOptions<R, any>): SharedActor {
    const key =
      options.key === undefined
        ? []
        : typeof options.key === "string"
          ? [options.key]
          : options.key;
    const hash = JSON.stringify([
      options.name,
      key,
      options.params ?? null,
      options.createWithInput ?? null,
      options.enabled !== false,
      typeof options.getParams === "function",
    ]);
    let entry = entries.get(hash);
    if (!entry) {
      entry = new SharedActor(
        client as Client<any>,
        hash,
        options,
        disposeDelay,
        opts.connect,
        (e) => {
          if (entries.get(e.hash) === e) entries.delete(e.hash);
        },
      );
      entries.set(hash, entry);
    }
    entry.latestOpts = options;
    return entry;
  }

  // biome-ignore lint/correctness/noComponentHookFactories: a hook factory is the API of @rivetkit/react, which this mirrors.
  function useActor<N extends keyof DefsOf<R> & string>(
    options: ActorOptions<R, N>,
  ): UseActorResult<R, N> {
    const entry = entryFor(options);
    useEffect(() => entry.mount(), [entry]);
    const state = useSyncExternalStore(entry.subscribe, entry.getSnapshot, entry.getSnapshot);

    // biome-ignore lint/correctness/noComponentHookFactories: useEvent is returned by useActor, as in @rivetkit/react.
    function useEvent(eventName: string, handler: (...args: any[]) => void): void {
      const ref = useRef(handler);
      useEffect(() => {
        ref.current = handler;
      });
      const connection = state.connection;
      // biome-ignore lint/correctness/useExhaustiveDependencies: re-subscribe exactly when the connection or the name changes.
      useEffect(() => {
        if (!connection) return;
        return (connection as ActorConn<any>).on(eventName, (...args: unknown[]) =>
          ref.current(...args),
        );
      }, [connection, eventName]);
    }

    // The typed signature is UseActorResult's; the implementation is the untyped one.
    return { ...(state as ActorState<R, N>), useEvent } as UseActorResult<R, N>;
  }

  return { useActor };
}

export { ActorError, createClient } from "../client/index.js";
export type { ActorConn, ConnStatus } from "../client/types.js";
