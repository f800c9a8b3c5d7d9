/**
 * Accessors and handles, written once over a Transport. A handle is a Proxy: any property that is
 * not one of the handle's own methods is an action, so `handle.increment(1)` sends
 * `increment` with `[1]`. `then` is never an action, so `await client.x.getOrCreate()` works.
 * A handle carries the connection params of its accessor call (`params` / `getParams`): they go
 * with every HTTP action and in the `init` of every connection it opens.
 */
import { type ConnectOptions, createActorConnection } from "./connection.js";
import { ActorError } from "./errors.js";
import type { Transport, WireQuery } from "./transport.js";
import type {
  ActorAccessor,
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

function toKey(key: unknown): string[] {
  if (key === undefined || key === null) return [];
  if (typeof key === "string") return [key];
  if (Array.isArray(key) && key.every((k) => typeof k === "string")) return [...key];
  throw new ActorError("invalid_key", "An actor key must be a string or an array of strings.");
}

function makeHandle(transport: Transport, query: WireQuery, opts?: GetOptions<any>): any {
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
  const callAction = async (name: string, args: unknown[]): Promise<unknown> => {
    if (getParams) return transport.action(query, name, args, await getParams());
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
    connect: (connectOpts?: ConnectOptions) =>
      createActorConnection(transport, query, { ...connectOpts, params, getParams }),
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

function makeAccessor(transport: Transport, name: string): ActorAccessor<any> {
  return {
    get: (key, opts) => makeHandle(transport, { name, key: toKey(key), mode: "get" }, opts),
    getOrCreate: (key, opts) =>
      makeHandle(
        transport,
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
      return makeHandle(transport, { name, id }, opts);
    },
    getForId: (id, opts) => makeHandle(transport, { name, id }, opts),
  };
}

/** Builds a client whose `client.<name>` accessors use the given transport. */
export function clientOver<R>(transport: Transport): Client<R> {
  const accessors = new Map<string, ActorAccessor<any>>();
  return new Proxy({} as Client<R>, {
    get(_t, prop) {
      if (typeof prop !== "string" || prop === "then") return undefined;
      let acc = accessors.get(prop);
      if (!acc) {
        acc = makeAccessor(transport, prop);
        accessors.set(prop, acc);
      }
      return acc;
    },
  });
}
