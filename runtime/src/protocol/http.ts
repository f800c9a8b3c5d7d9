/**
 * The HTTP routes of runtime/PROTOCOL.md, as a Hono app. Every route answers JSON; every error
 * has the shape `{ "error": { code, message, metadata? } }` and the header `x-troupe-error: code`.
 */

import type { Context } from "hono";
import { Hono } from "hono";
import { TroupeError } from "../errors.js";
import type { Engine } from "../registry/engine.js";
import type { ActorQuery } from "../registry/placement.js";
import { readBodyWithin } from "./body.js";
import { type CorsOptions, corsMiddleware } from "./cors.js";
import { tooDeep, wireOutput } from "./wire.js";

export interface HttpOptions {
  basePath: string;
  maxIncomingMessageSize: number;
  /** Cross-origin access for browser pages; off when absent (see cors.ts). */
  cors?: CorsOptions;
  /**
   * Whether a request comes from the server's own code (on Workers: the Worker's client and
   * `c.client()`, marked by the Worker, which refuses the mark from outside). Such calls are
   * treated as in-process ones: without params they pass no connection hooks.
   */
  trusted?: (request: Request) => boolean;
}

export function createHttpApp(engine: Engine, opts: HttpOptions): Hono {
  const app = new Hono().basePath(opts.basePath);
  if (opts.cors) app.use("*", corsMiddleware(opts.cors));

  const fail = (c: Context, err: unknown, context: Record<string, unknown> = {}) => {
    const { status, body } = engine.errorBody(err, { path: c.req.path, ...context });
    return c.json({ error: body }, status as 400, { "x-troupe-error": body.code });
  };

  /** The body within `maxIncomingMessageSize` (see `./body.ts`). */
  const readBody = (c: Context) =>
    readBodyWithin(c.req.raw, opts.maxIncomingMessageSize, "maxIncomingMessageSize");

  const callerOf = (request: Request, params: unknown) =>
    opts.trusted?.(request) ? { params, inProcess: true } : { params, request };

  const decoder = new TextDecoder();
  const readJson = async (c: Context): Promise<unknown> => {
    const text = decoder.decode(await readBody(c));
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new TroupeError("invalid_request", "The request body is not valid JSON.");
    }
    if (tooDeep(text, parsed)) throw new TroupeError("too_deep");
    return parsed;
  };

  app.get("/metadata", (c) =>
    c.json({ runtime: "troupe", version: 1, actorNames: engine.actorNames }),
  );

  app.post("/actors/resolve", async (c) => {
    try {
      const body = await readJson(c);
      const query = parseQuery(body);
      const params = (body as { params?: unknown }).params;
      const actorId = await engine.resolveId(query, callerOf(c.req.raw, params));
      return c.json({ actorId });
    } catch (err) {
      return fail(c, err);
    }
  });

  app.post("/actors/action/:action", async (c) => {
    const action = c.req.param("action");
    let actorName: string | undefined;
    try {
      const body = await readJson(c);
      if (!isObject(body)) throw new TroupeError("invalid_request", "Expected a JSON object body.");
      const query = parseQuery(body.actor);
      actorName = query.name;
      if (!Array.isArray(body.args)) {
        throw new TroupeError(
          "invalid_arguments",
          'Action arguments must be sent as a JSON array in "args".',
        );
      }
      const output = await engine.callAction(
        query,
        action,
        body.args,
        callerOf(c.req.raw, body.params),
      );
      return c.json({ output: wireOutput(output) });
    } catch (err) {
      return fail(c, err, { actor: actorName, action });
    }
  });

  app.all("/gateway/:actorId/request/*", async (c) => {
    const actorId = c.req.param("actorId");
    try {
      const incoming = new URL(c.req.url);
      const prefix = `${opts.basePath}/gateway/${encodeURIComponent(actorId)}/request`;
      const rest = incoming.pathname.startsWith(prefix)
        ? incoming.pathname.slice(prefix.length)
        : "/";
      const url = new URL(`${rest || "/"}${incoming.search}`, incoming.origin);
      const method = c.req.method;
      const hasBody = method !== "GET" && method !== "HEAD";
      const request = new Request(url, {
        method,
        headers: c.req.raw.headers,
        body: hasBody ? await readBody(c) : undefined,
      });
      const skipReadyWait = c.req.header("x-troupe-skip-ready-wait") === "1";
      return await engine.forwardRequest(actorId, request, skipReadyWait);
    } catch (err) {
      return fail(c, err, { actorId });
    }
  });

  app.notFound((c) =>
    fail(c, new TroupeError("not_found", `No Troupe route for ${c.req.method} ${c.req.path}.`)),
  );
  app.onError((err, c) => fail(c, err));
  return app;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates an actor query from the wire. Keys are checked by placement (normalizeKey). */
export function parseQuery(v: unknown): ActorQuery {
  if (!isObject(v) || typeof v.name !== "string") {
    throw new TroupeError("invalid_request", 'Expected an actor query: { "name": string, ... }.');
  }
  if ("id" in v) {
    if (typeof v.id !== "string")
      throw new TroupeError("invalid_request", '"id" must be a string.');
    return { name: v.name, id: v.id };
  }
  const mode = v.mode ?? "get";
  if (mode !== "get" && mode !== "getOrCreate" && mode !== "create") {
    throw new TroupeError("invalid_request", '"mode" must be "get", "getOrCreate" or "create".');
  }
  return { name: v.name, key: v.key, mode, input: v.input };
}
