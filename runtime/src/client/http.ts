/** The HTTP transport: the routes of runtime/PROTOCOL.md, over `fetch`. Works in Node and browsers. */
import { ActorError } from "./errors.js";
import type { Transport, WireQuery } from "./transport.js";
import { webSocketClass, whenOpen } from "./websocket.js";

export function httpTransport(
  base: string,
  fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis),
  extraHeaders: Record<string, string> = {},
): Transport {
  const wsBase = base.replace(/^http/, "ws");
  const send = async (url: string, init: RequestInit): Promise<Response> => {
    try {
      return await fetchImpl(url, init);
    } catch (err) {
      throw new ActorError(
        "network_error",
        `Could not reach ${url}: ${(err as Error)?.message ?? err}`,
        undefined,
        { cause: err },
      );
    }
  };

  const postJson = async (path: string, body: unknown): Promise<any> => {
    const res = await send(`${base}${path}`, {
      method: "POST",
      headers: { ...extraHeaders, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: any;
    try {
      parsed = text.length ? JSON.parse(text) : {};
    } catch {
      throw new ActorError(
        "invalid_response",
        `Expected JSON from ${base}${path}, got HTTP ${res.status}: ${text.slice(0, 200)}`,
      );
    }
    if (!res.ok || parsed?.error) {
      const e = parsed?.error;
      if (e && typeof e.code === "string")
        throw new ActorError(e.code, e.message ?? e.code, e.metadata);
      throw new ActorError("invalid_response", `HTTP ${res.status} from ${base}${path}`);
    }
    return parsed;
  };

  return {
    async action(query: WireQuery, action: string, args: unknown[], params?: unknown) {
      const body = params === undefined ? { actor: query, args } : { actor: query, args, params };
      const out = await postJson(`/actors/action/${encodeURIComponent(action)}`, body);
      return out.output;
    },
    async resolve(query: WireQuery, params?: unknown) {
      const out = await postJson(
        "/actors/resolve",
        params === undefined ? query : { ...query, params },
      );
      return out.actorId as string;
    },
    async fetch(actorId: string, path: string, init?: RequestInit) {
      const rel = path.startsWith("/") ? path : `/${path}`;
      const headers = new Headers(init?.headers);
      for (const [k, v] of Object.entries(extraHeaders)) if (!headers.has(k)) headers.set(k, v);
      return send(`${base}/gateway/${encodeURIComponent(actorId)}/request${rel}`, {
        ...init,
        headers,
      });
    },
    gatewayUrl(actorId: string) {
      return `${base}/gateway/${encodeURIComponent(actorId)}`;
    },
    async openConnection() {
      const WS = await webSocketClass();
      return new WS(`${wsBase}/actors/connect`);
    },
    async openRawWebSocket(actorId, path, protocols, opts) {
      const WS = await webSocketClass();
      const rel = path.startsWith("/") ? path : `/${path}`;
      const url = new URL(`${wsBase}/gateway/${encodeURIComponent(actorId)}/websocket${rel}`);
      if (opts?.skipReadyWait) url.searchParams.set("skipReadyWait", "1");
      const socket = new WS(url.toString(), protocols);
      try {
        return await whenOpen(socket);
      } catch (err) {
        throw new ActorError("network_error", `Could not open ${url}: ${(err as Error).message}`);
      }
    },
  };
}

/** `createClient()` endpoint rules: argument, else the page's origin, else TROUPE_ENDPOINT, else :6420. */
export function resolveEndpoint(endpoint?: string): string {
  let ep = endpoint;
  if (!ep) {
    const loc = (globalThis as { location?: { origin?: string } }).location;
    if (loc?.origin && loc.origin !== "null") ep = loc.origin;
    else {
      const env = typeof process !== "undefined" ? process.env?.TROUPE_ENDPOINT : undefined;
      ep = env || "http://localhost:6420";
    }
  }
  const url = new URL(ep);
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/api/troupe";
  return url.toString().replace(/\/+$/, "");
}
