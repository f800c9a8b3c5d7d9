/**
 * Accessors and handles, written once over a Transport. A handle is a Proxy: any property that is
 * not one of the handle's own methods is an action, so `handle.increment(1)` sends
 * `increment` with `[1]`. `then` is never an action, so `await client.x.getOrCreate()` works.
 */
import { ActorError } from "./errors.js";
import type { Transport, WireQuery } from "./transport.js";
import type { ActorAccessor, Client } from "./types.js";

const HANDLE_METHODS = new Set(["resolve", "fetch", "getGatewayUrl", "action"]);

function toKey(key: unknown): string[] {
  if (key === undefined || key === null) return [];
  if (typeof key === "string") return [key];
  if (Array.isArray(key) && key.every((k) => typeof k === "string")) return [...key];
  throw new ActorError("invalid_key", "An actor key must be a string or an array of strings.");
}

function makeHandle(transport: Transport, query: WireQuery): any {
  // Key-based handles follow the key: resolve() asks every time (the actor behind a key can be
  // destroyed and re-created); fetch() reuses the last answer and re-resolves on actor_not_found.
  let resolvedId: string | undefined = "id" in query ? query.id : undefined;
  const resolve = async (): Promise<string> => {
    if ("id" in query) return query.id;
    resolvedId = await transport.resolve(query);
    return resolvedId;
  };
  const cachedId = async (): Promise<string> => resolvedId ?? resolve();
  const methods: Record<string, unknown> = {
    resolve,
    action: (opts: { name: string; args?: unknown[] }) =>
      transport.action(query, opts.name, opts.args ?? []),
    fetch: async (path: string | URL | Request, init?: RequestInit) => {
      const id = await cachedId();
      const { target, requestInit } = splitRequest(path, init);
      const res = await transport.fetch(id, query.name, target, requestInit);
      if (
        res.status === 404 &&
        "key" in query &&
        res.headers.get("x-troupe-error") === "actor_not_found"
      ) {
        // The actor was destroyed and this handle may re-create it: resolve again once.
        resolvedId = undefined;
        return transport.fetch(await resolve(), query.name, target, requestInit);
      }
      return res;
    },
    getGatewayUrl: async () => transport.gatewayUrl(await cachedId()),
  };
  return new Proxy(methods, {
    get(target, prop) {
      if (typeof prop !== "string" || prop === "then") return undefined;
      if (HANDLE_METHODS.has(prop)) return target[prop];
      return (...args: unknown[]) => transport.action(query, prop, args);
    },
  });
}

function splitRequest(
  path: string | URL | Request,
  init?: RequestInit,
): { target: string; requestInit?: RequestInit } {
  if (typeof path === "string") return { target: path, requestInit: init };
  if (path instanceof URL) return { target: `${path.pathname}${path.search}`, requestInit: init };
  const url = new URL(path.url);
  return {
    target: `${url.pathname}${url.search}`,
    requestInit: {
      method: path.method,
      headers: path.headers,
      body: path.body,
      // @ts-expect-error Node's fetch needs duplex for streamed bodies.
      duplex: path.body ? "half" : undefined,
      ...init,
    },
  };
}

function makeAccessor(transport: Transport, name: string): ActorAccessor<any> {
  return {
    get: (key) => makeHandle(transport, { name, key: toKey(key), mode: "get" }),
    getOrCreate: (key, opts) =>
      makeHandle(transport, {
        name,
        key: toKey(key),
        mode: "getOrCreate",
        input: opts?.createWithInput,
      }),
    create: async (key, opts) => {
      const id = await transport.resolve({
        name,
        key: toKey(key),
        mode: "create",
        input: opts?.input,
      });
      return makeHandle(transport, { name, id });
    },
    getForId: (id) => makeHandle(transport, { name, id }),
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

export const createInProcessClient = clientOver;
