/**
 * Accessors and handles, written once over a Transport. A handle is a Proxy: any property that is
 * not one of the handle's own methods is an action, so `handle.increment(1)` sends
 * `increment` with `[1]`. `then` is never an action, so `await client.x.getOrCreate()` works.
 * A handle carries the connection params of its accessor call (`params` / `getParams`): they go
 * with every HTTP action and in the `init` of every connection it opens.
 *
 * The client itself is a Proxy too: every name is an actor accessor except CLIENT_RESERVED_NAMES,
 * which `setup()` refuses as actor names so the two can never clash.
 */
import { type ConnectOptions, createActorConnection } from "./connection.js";
import { ActorError } from "./errors.js";
import type { Transport, WebSocketLike, WireQuery } from "./transport.js";
import type {
  ActorAccessor,
  ActorConn,
  ActorHandleMethods,
  Client,
  FetchOptions,
  GetOptions,
  WebSocketOptions,
} from "./types.js";

/** Every ActorHandleMethods key; the Record type makes the compiler flag a missing or extra one. */
const HANDLE_METHOD_KEYS: Record<keyof ActorHandleMethods, true> = {
  resolve: true,
  fetch: true,
  getGatewayUrl: true,
  action: true,
  connect: true,
  webSocket: true,
};
const HANDLE_METHODS = new Set<string>(Object.keys(HANDLE_METHOD_KEYS));
/** Names a handle keeps for itself: an action with one of them is out of `handle.<name>()`'s reach. */
export const HANDLE_RESERVED_NAMES: ReadonlySet<string> = new Set([...HANDLE_METHODS, "then"]);

function toKey(key: unknown): string[] {
  if (key === undefined || key === null) return [];
  if (typeof key === "string") return [key];
  if (Array.isArray(key) && key.every((k) => typeof k === "string")) return [...key];
  throw new ActorError("invalid_key", "An actor key must be a string or an array of strings.");
}

/**
 * Names of the client that are not actor accessors: `dispose` (RivetKit's `client.dispose()`) and
 * `then` (always undefined, so that a client is not mistaken for a promise).
 */
export const CLIENT_RESERVED_NAMES: ReadonlySet<string> = new Set(["dispose", "then"]);

/**
 * What one client opened, so that `dispose()` can close it. Connections and raw sockets leave
 * the sets when they end by themselves, so a long-lived client does not accumulate them.
 */
class ClientResources {
  /** Set by dispose(): every later call rejects with it. */
  disposedError: ActorError | undefined;
  private readonly conns = new Set<ActorConn<any>>();
  private readonly sockets = new Set<WebSocketLike>();

  /** Throws once the client is disposed; every call and every new connection goes through it. */
  check(): void {
    if (this.disposedError) throw this.disposedError;
  }

  addConnection(conn: ActorConn<any>): void {
    this.conns.add(conn);
    // `disconnected` is final (connection.ts): disposed, refused or closed by the actor.
    conn.onStatusChange((status) => {
      if (status === "disconnected") this.conns.delete(conn);
    });
  }

  addSocket(socket: WebSocketLike): void {
    this.sockets.add(socket);
    socket.addEventListener("close", () => this.sockets.delete(socket));
  }

  async dispose(): Promise<void> {
    if (this.disposedError) return;
    this.disposedError = new ActorError(
      "client_disposed",
      "This client was disposed (client.dispose()); create a new client to call actors again.",
    );
    for (const socket of this.sockets) {
      try {
        socket.close(1000, "client disposed");
      } catch {
        // already closing
      }
    }
    this.sockets.clear();
    const conns = [...this.conns];
    this.conns.clear();
    await Promise.all(conns.map((conn) => conn.dispose()));
  }
}

/**
 * The transport, refusing every call once the client is disposed; raw sockets are tracked. The
 * check returns the inner promise as is (no extra async frame on the action path).
 */
function guardedTransport(transport: Transport, resources: ClientResources): Transport {
  return {
    action: (query, action, args, params) => {
      if (resources.disposedError) return Promise.reject(resources.disposedError);
      try {
        return transport.action(query, action, args, params);
      } catch (err) {
        // A call always answers with a promise, even from a transport that throws at once.
        return Promise.reject(err);
      }
    },
    resolve: (query, params) =>
      resources.disposedError
        ? Promise.reject(resources.disposedError)
        : transport.resolve(query, params),
    fetch: (actorId, path, init) =>
      resources.disposedError
        ? Promise.reject(resources.disposedError)
        : transport.fetch(actorId, path, init),
    gatewayUrl: (actorId) => transport.gatewayUrl(actorId),
    openConnection: () =>
      resources.disposedError
        ? Promise.reject(resources.disposedError)
        : transport.openConnection(),
    openRawWebSocket: async (actorId, path, protocols, opts) => {
      resources.check();
      const socket = await transport.openRawWebSocket(actorId, path, protocols, opts);
      if (resources.disposedError) {
        // Disposed while the socket was opening.
        socket.close(1000, "client disposed");
        throw resources.disposedError;
      }
      resources.addSocket(socket);
      return socket;
    },
  };
}

function makeHandle(
  transport: Transport,
  resources: ClientResources,
  query: WireQuery,
  opts?: GetOptions<any>,
): any {
  const params = opts?.params;
  const getParams = opts?.getParams;
  // Key-based handles follow the key: resolve() asks every time (the actor behind a key can be
  // destroyed and re-created); fetch() reuses the last answer and re-resolves on actor_not_found.
  let resolvedId: string | undefined = "id" in query ? query.id : undefined;
  const currentParams = async (): Promise<unknown> => (getParams ? getParams() : params);
  const resolve = async (): Promise<string> => {
    if ("id" in query) return query.id;
    resolvedId = await transport.resolve(query, await currentParams());
    return resolvedId;
  };
  const cachedId = async (): Promise<string> => resolvedId ?? resolve();
  // Params travel only when the handle has some, so actors without connection hooks keep the
  // plain (connection-less) HTTP path.
  // Not async: returning the transport's promise from an async function cost two more turns.
  const callAction = (name: string, args: unknown[]): Promise<unknown> => {
    if (getParams) {
      return (async () => transport.action(query, name, args, await getParams()))();
    }
    if (params !== undefined) return transport.action(query, name, args, params);
    return transport.action(query, name, args);
  };
  const methods: Record<string, unknown> = {
    resolve,
    action: (o: { name: string; args?: unknown[] }) => callAction(o.name, o.args ?? []),
    fetch: async (path: string | URL | Request, init?: FetchOptions) => {
      const id = await cachedId();
      const { target, requestInit } = splitRequest(path, init);
      const res = await transport.fetch(id, target, requestInit);
      if (
        res.status === 404 &&
        "key" in query &&
        res.headers.get("x-troupe-error") === "actor_not_found"
      ) {
        // The actor was destroyed and this handle may re-create it: resolve again once.
        resolvedId = undefined;
        return transport.fetch(await resolve(), target, requestInit);
      }
      return res;
    },
    getGatewayUrl: async () => transport.gatewayUrl(await cachedId()),
    // `connect(opts)` takes the tunables of ConnectOptions; params always come from the handle.
    connect: (connectOpts?: ConnectOptions) => {
      resources.check();
      const conn = createActorConnection(transport, query, { ...connectOpts, params, getParams });
      resources.addConnection(conn);
      return conn;
    },
    webSocket: async (path = "/", protocols?: string | string[], wsOpts?: WebSocketOptions) => {
      const id = await cachedId();
      return transport.openRawWebSocket(id, path, protocols, wsOpts);
    },
  };
  return new Proxy(methods, {
    get(target, prop) {
      if (typeof prop !== "string" || prop === "then") return undefined;
      if (HANDLE_METHODS.has(prop)) return target[prop];
      return (...args: unknown[]) => callAction(prop, args);
    },
  });
}

/**
 * Turns fetch()'s arguments into a path and a RequestInit for the transport. `skipReadyWait` is
 * not a fetch option: it becomes the `x-troupe-skip-ready-wait: 1` header (PROTOCOL.md).
 */
function splitRequest(
  path: string | URL | Request,
  init?: FetchOptions,
): { target: string; requestInit?: RequestInit } {
  const { skipReadyWait, ...rest } = init ?? {};
  const plain: RequestInit | undefined = init ? rest : undefined;
  let target: string;
  let requestInit: RequestInit | undefined;
  if (typeof path === "string") {
    target = path;
    requestInit = plain;
  } else if (path instanceof URL) {
    target = `${path.pathname}${path.search}`;
    requestInit = plain;
  } else {
    const url = new URL(path.url);
    target = `${url.pathname}${url.search}`;
    requestInit = {
      method: path.method,
      headers: path.headers,
      body: path.body,
      // @ts-expect-error Node's fetch needs duplex for streamed bodies.
      duplex: path.body ? "half" : undefined,
      ...plain,
    };
  }
  if (skipReadyWait) {
    const headers = new Headers(requestInit?.headers);
    headers.set("x-troupe-skip-ready-wait", "1");
    requestInit = { ...requestInit, headers };
  }
  return { target, requestInit };
}

function makeAccessor(
  transport: Transport,
  resources: ClientResources,
  name: string,
): ActorAccessor<any> {
  return {
    get: (key, opts) =>
      makeHandle(transport, resources, { name, key: toKey(key), mode: "get" }, opts),
    getOrCreate: (key, opts) =>
      makeHandle(
        transport,
        resources,
        { name, key: toKey(key), mode: "getOrCreate", input: opts?.createWithInput },
        opts,
      ),
    create: async (key, opts) => {
      const id = await transport.resolve({
        name,
        key: toKey(key),
        mode: "create",
        input: opts?.input,
      });
      return makeHandle(transport, resources, { name, id }, opts);
    },
    getForId: (id, opts) => makeHandle(transport, resources, { name, id }, opts),
  };
}

export interface ClientOverOptions {
  /**
   * Whether `dispose()` closes what this client opened. The in-process client of `c.client()` is
   * shared by every actor of the process and ends with the registry, so its `dispose()` refuses.
   */
  disposable?: boolean;
}

/** Builds a client whose `client.<name>` accessors use the given transport. */
export function clientOver<R>(transport: Transport, opts: ClientOverOptions = {}): Client<R> {
  const resources = new ClientResources();
  const guarded = guardedTransport(transport, resources);
  const accessors = new Map<string, ActorAccessor<any>>();
  const dispose = opts.disposable
    ? () => resources.dispose()
    : () =>
        Promise.reject(
          new ActorError(
            "client_not_disposable",
            "c.client() is shared by every actor of this process and closes with the registry; dispose the connections you opened instead.",
          ),
        );
  return new Proxy({} as Client<R>, {
    get(_t, prop) {
      if (typeof prop !== "string" || prop === "then") return undefined;
      if (prop === "dispose") return dispose;
      let acc = accessors.get(prop);
      if (!acc) {
        acc = makeAccessor(guarded, resources, prop);
        accessors.set(prop, acc);
      }
      return acc;
    },
  });
}
