/**
 * `troupe/cloudflare`: the same registry on Cloudflare Workers, one Durable Object per actor.
 * Cloudflare then does what Troupe does not build itself: exactly one placement per key, routing
 * by key from anywhere, storage next to each actor, durable alarms.
 *
 * The Worker (`handler`) serves the protocol of PROTOCOL.md at the registry's base path and
 * routes each call to the actor's Durable Object (`ActorHandler`), addressed by
 * `idFromName(name + key)` with the same injective key encoding as placement on Node. An actor id
 * is `<Durable Object id>.<random>`, so id lookups route too, and a destroyed and re-created key
 * gets a new id. Inside, each Durable Object runs the ordinary engine with a storage driver on
 * its SQLite database and its alarm as the alarm service, so actors behave as on Node.
 *
 * @example
 * // src/worker.ts
 * import { createHandler } from "troupe/cloudflare";
 * import { registry } from "./actors";
 * const { handler, ActorHandler } = createHandler(registry);
 * export { handler as default, ActorHandler };
 */
import { Hono } from "hono";
import type { AnyActorDefinition } from "../actor/definition.js";
import { normalizeKey } from "../actor/keys.js";
import { clientOver } from "../client/client.js";
import { ActorError } from "../client/errors.js";
import { httpTransport } from "../client/http.js";
import type { Transport, WebSocketLike } from "../client/transport.js";
import type { Client } from "../client/types.js";
import { systemClock } from "../clock.js";
import { TroupeError } from "../errors.js";
import { createLogger, type Logger } from "../log.js";
import { readBodyWithin } from "../protocol/body.js";
import { corsMiddleware, upgradeOriginRefusal } from "../protocol/cors.js";
import { createHttpApp, parseQuery } from "../protocol/http.js";
import { type ServeConnectionOptions, serveConnection } from "../protocol/websocket.js";
import { tooDeep } from "../protocol/wire.js";
import { type AlarmService, Engine } from "../registry/engine.js";
import { type ActorQuery, placementKey } from "../registry/placement.js";
import { DEFAULT_MAX_INCOMING_MESSAGE_SIZE, type Registry } from "../registry/registry.js";
import { randomId } from "../util.js";
import { hibernatablePeer, type SocketEvents } from "./socket.js";
import { DurableObjectDriver } from "./storage.js";
import {
  type DurableObjectNamespace,
  type DurableObjectState,
  type DurableObjectStorage,
  type DurableObjectStub,
  responseWebSocket,
  upgradeResponse,
  type WorkersWebSocket,
  webSocketPair,
} from "./workers.js";

export type { Client } from "../client/types.js";
export { DurableObjectDriver } from "./storage.js";
export type { DurableObjectState, WorkersWebSocket } from "./workers.js";

/** The binding name of the Durable Object namespace in `wrangler.jsonc`, unless told otherwise. */
export const DEFAULT_BINDING = "ACTOR_DO";

/** How long after a failed alarm run it is tried again (as Node's alarm timer does). */
const ALARM_RETRY_MS = 1000;

/** Where the Worker's own calls go (never leaves the Worker: routed in process to the stubs). */
const INTERNAL_ORIGIN = "http://troupe.internal";
/**
 * Marks the calls of the Worker's own client and of `c.client()` (which never leave the
 * isolate): the Durable Object treats them as in-process calls, as Node does its own, so actors
 * that refuse outside callers in `onBeforeCreate` / `onBeforeConnect` still serve the app's code.
 * The Worker refuses a request from outside that carries it.
 */
const INTERNAL_HEADER = "x-troupe-internal";

/** The Workers `ExecutionContext` a Worker's `fetch` gets (the members Hono's `app.fetch` expects too). */
export interface WorkerContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
  props: any;
}

export interface CloudflareHandlerOptions<TEnv> {
  /**
   * Your Worker's own routes: every request outside the registry's base path comes here, with
   * `env.TROUPE` set to a client of the registry (actions, resolve, raw requests).
   */
  fetch?: (
    request: Request,
    env: TEnv & { TROUPE: Client<any> },
    ctx: WorkerContext,
  ) => Response | Promise<Response>;
  /** Name of the Durable Object namespace binding. Default `ACTOR_DO`. */
  binding?: string;
}

export interface CloudflareHandler {
  /** The Worker: `export { handler as default }`. */
  handler: { fetch(request: Request, env: any, ctx: WorkerContext): Promise<Response> };
  /** The Durable Object class: `export { ActorHandler }`, bound in wrangler.jsonc. */
  ActorHandler: new (
    ctx: DurableObjectState,
    env: any,
  ) => {
    fetch(request: Request): Promise<Response>;
    alarm(): Promise<void>;
    webSocketMessage(ws: WorkersWebSocket, message: string | ArrayBuffer): Promise<void>;
    webSocketClose(ws: WorkersWebSocket, code: number, reason: string): Promise<void>;
    webSocketError(ws: WorkersWebSocket, error: unknown): Promise<void>;
  };
}

export function createHandler<TUse extends Record<string, AnyActorDefinition>, TEnv = unknown>(
  registry: Registry<TUse>,
  options: CloudflareHandlerOptions<TEnv> = {},
): CloudflareHandler {
  const config = registry.config;
  const basePath = registry.basePath;
  const binding = options.binding ?? DEFAULT_BINDING;
  const log = config.logger ?? createLogger();
  const maxIncoming = config.maxIncomingMessageSize ?? DEFAULT_MAX_INCOMING_MESSAGE_SIZE;

  const namespaceOf = (env: Record<string, unknown>): DurableObjectNamespace => {
    const ns = env?.[binding] as DurableObjectNamespace | undefined;
    if (!ns || typeof ns.idFromName !== "function") {
      throw new Error(
        `troupe/cloudflare: the Worker has no Durable Object binding "${binding}". Bind the ActorHandler class under that name (wrangler.jsonc "durable_objects").`,
      );
    }
    return ns;
  };

  // One router and one client per env object (the same for the life of an isolate).
  const routers = new WeakMap<object, Hono>();
  const routerFor = (env: Record<string, unknown>): Hono => {
    let router = routers.get(env);
    if (!router) {
      router = createRouter(registry, namespaceOf(env), log, maxIncoming);
      routers.set(env, router);
    }
    return router;
  };
  const clients = new WeakMap<object, Client<any>>();
  const clientFor = (env: Record<string, unknown>): Client<any> => {
    let client = clients.get(env);
    if (!client) {
      const router = routerFor(env);
      client = clientOver(internalTransport(`${INTERNAL_ORIGIN}${basePath}`, router));
      clients.set(env, client);
    }
    return client;
  };

  const handler = {
    async fetch(request: Request, env: any, ctx: WorkerContext): Promise<Response> {
      const path = new URL(request.url).pathname;
      if (request.headers.has(INTERNAL_HEADER)) {
        return errorResponse(400, "invalid_request", `The ${INTERNAL_HEADER} header is reserved.`);
      }
      if (path === basePath || path.startsWith(`${basePath}/`)) {
        return routerFor(env).fetch(request);
      }
      if (options.fetch) {
        return options.fetch(request, { ...env, TROUPE: clientFor(env) }, ctx);
      }
      return errorResponse(404, "not_found", `Nothing here: the actors are served at ${basePath}.`);
    },
  };

  type Runtime = { engine: Engine; app: Hono; driver: DurableObjectDriver };

  class ActorHandler {
    private runtime: Promise<Runtime> | undefined;
    private alarms: DurableObjectAlarms | undefined;
    /** Each open connection socket's event sinks (the Hibernation API delivers its events here). */
    private readonly sockets = new WeakMap<WorkersWebSocket, SocketEvents>();

    constructor(
      private readonly state: DurableObjectState,
      private readonly env: Record<string, unknown>,
    ) {}

    private start(): Promise<Runtime> {
      this.runtime ??= this.state.blockConcurrencyWhile(async () => {
        const ns = namespaceOf(this.env);
        const selfId = this.state.id.toString();
        const driver = new DurableObjectDriver(this.state.storage);
        const engine = new Engine({
          defs: config.use,
          driver,
          clock: systemClock,
          log,
          exposeErrors: config.exposeErrors ?? false,
          maxOutgoingBuffer: config.maxOutgoingBuffer,
          maxIncomingMessageSize: maxIncoming,
          alarms: (e) => {
            this.alarms = new DurableObjectAlarms(this.state.storage, e.log);
            return this.alarms;
          },
          newActorId: () => `${selfId}.${randomId()}`,
          client: () => clientFor(this.env),
          // Only the actor this Durable Object is addressed as: the Worker routes by the same
          // rule, so anything else is a bug or a forged request.
          admit: (query) => {
            if (stubIdOf(ns, registry, query) !== selfId) {
              throw new TroupeError(
                "actor_not_found",
                `This Durable Object does not host the "${query.name}" actor asked for.`,
              );
            }
          },
        });
        await engine.start();
        const app = createHttpApp(engine, {
          basePath,
          maxIncomingMessageSize: maxIncoming,
          trusted: isInternal,
        });
        const runtime = { engine, app, driver };
        await this.restoreConnections(runtime);
        return runtime;
      });
      // A failed start is tried again by the next event rather than remembered.
      this.runtime.catch(() => {
        this.runtime = undefined;
      });
      return this.runtime;
    }

    /**
     * After an eviction, the sockets accepted before it are still open: each gets its
     * connection back (same id, params, state and subscriptions; no connection hooks run).
     */
    private async restoreConnections({ engine, driver }: Runtime): Promise<void> {
      const open = new Set<string>();
      for (const ws of this.state.getWebSockets()) {
        const connId = (ws.deserializeAttachment() as { connId?: string } | null)?.connId;
        const saved = connId ? driver.connection(connId) : undefined;
        if (!saved) {
          // Hibernated before its connection opened: the client reconnects.
          closeQuietly(ws, 1001, "reconnect");
          continue;
        }
        try {
          const data = JSON.parse(saved.data) as {
            name: string;
            params: unknown;
            state: unknown;
            subscriptions: string[];
          };
          const inst = await engine.resolve({ name: data.name, id: saved.actorId });
          const socket = this.connectionSocket(ws, driver);
          const conn = inst.restoreConnection({ id: saved.id, ...data }, socket.peer);
          this.attach(engine, ws, socket, undefined, { inst, conn });
          open.add(saved.id);
        } catch (err) {
          log.error("could not restore a connection after hibernation", { error: err });
          closeQuietly(ws, 1011, "internal_error");
        }
      }
      driver.keepConnections(open);
    }

    /** The socket's peer; its open connection is stored whenever it changes (for hibernation). */
    private connectionSocket(ws: WorkersWebSocket, driver: DurableObjectDriver) {
      let tracked:
        | { conn: { id: string; params: unknown; state: unknown; subscriptions: Set<string> } }
        | undefined;
      let tracking: { actorId: string; name: string } | undefined;
      let last = "";
      const persist = () => {
        if (!tracked || !tracking) return;
        let data: string;
        try {
          data = JSON.stringify({
            name: tracking.name,
            params: tracked.conn.params,
            state: tracked.conn.state,
            subscriptions: [...tracked.conn.subscriptions],
          });
        } catch (err) {
          if (last !== "unserializable") {
            log.warn("a connection's params or state are not JSON: it cannot survive hibernation", {
              error: err,
            });
          }
          last = "unserializable";
          return;
        }
        if (data === last) return;
        last = data;
        driver.saveConnection({ id: tracked.conn.id, actorId: tracking.actorId, data });
      };
      const { peer, events } = hibernatablePeer(ws, persist, maxIncoming);
      return {
        peer,
        events,
        track: (conn: NonNullable<typeof tracked>["conn"], actorId: string, name: string) => {
          tracked = { conn };
          tracking = { actorId, name };
          ws.serializeAttachment({ connId: conn.id });
          persist();
        },
        persist,
        forget: () => {
          if (tracked) driver.deleteConnection(tracked.conn.id);
          tracked = undefined;
        },
      };
    }

    /** Hands a connection socket to the protocol; its events now come through `sockets`. */
    private attach(
      engine: Engine,
      ws: WorkersWebSocket,
      socket: ReturnType<ActorHandler["connectionSocket"]>,
      request: Request | undefined,
      restored?: ServeConnectionOptions["restored"],
    ): void {
      this.sockets.set(ws, {
        message: (data) => {
          socket.events.message(data);
          // sub / unsub change the connection synchronously and answer nothing.
          socket.persist();
        },
        close: () => {
          socket.events.close();
          socket.forget();
        },
      });
      if (restored) socket.track(restored.conn, restored.inst.id, restored.inst.name);
      serveConnection(
        engine,
        socket.peer,
        request,
        restored
          ? { restored }
          : { onOpen: (conn, inst) => socket.track(conn, inst.id, inst.name) },
      );
    }

    async fetch(request: Request): Promise<Response> {
      const { engine, app, driver } = await this.start();
      if (!isUpgrade(request)) return app.fetch(request);
      const url = new URL(request.url);
      if (url.pathname === `${basePath}/actors/connect`) {
        const [client, server] = webSocketPair();
        this.state.acceptWebSocket(server);
        // The app's own connection (c.client().connect()) is in-process, as on Node.
        const upgrade = isInternal(request) ? undefined : request;
        this.attach(engine, server, this.connectionSocket(server, driver), upgrade);
        return upgradeResponse(client);
      }
      const raw = rawSocketPath(basePath, url);
      if (!raw) return errorResponse(404, "not_found", "No WebSocket route here.");
      const skipReadyWait = url.searchParams.get("skipReadyWait") === "1";
      try {
        const inst = await engine.instanceForRaw(raw.actorId, skipReadyWait);
        if (!inst.hasWebSocketHandler) {
          throw new TroupeError(
            "not_found",
            `The actor "${inst.name}" has no onWebSocket handler.`,
          );
        }
        url.searchParams.delete("skipReadyWait");
        const forwarded = new Request(new URL(`${raw.path}${url.search}`, url.origin), {
          headers: request.headers,
        });
        // Raw sockets are the actor's own (onWebSocket listens with addEventListener), so they
        // use the standard API: the object stays in memory while one is open.
        const [client, server] = webSocketPair();
        server.accept();
        inst
          .handleWebSocket(server as unknown as WebSocket, forwarded, skipReadyWait)
          .catch((err) => {
            engine.errorBody(err, { actor: inst.name, during: "onWebSocket" });
            server.close(1011, "internal_error");
          });
        return upgradeResponse(client);
      } catch (err) {
        const { status, body } = engine.errorBody(err, { during: "websocket upgrade" });
        return errorResponse(status, body.code, body.message);
      }
    }

    async webSocketMessage(ws: WorkersWebSocket, message: string | ArrayBuffer): Promise<void> {
      await this.start();
      const events = this.sockets.get(ws);
      if (events) events.message(message);
      else closeQuietly(ws, 1011, "internal_error");
    }

    async webSocketClose(ws: WorkersWebSocket, code: number, reason: string): Promise<void> {
      await this.start();
      this.sockets.get(ws)?.close();
      this.sockets.delete(ws);
      closeQuietly(ws, closeCode(code), reason);
    }

    async webSocketError(ws: WorkersWebSocket): Promise<void> {
      await this.start();
      this.sockets.get(ws)?.close();
      this.sockets.delete(ws);
    }

    /**
     * The Durable Object alarm: runs the due scheduled actions of the actor(s) stored here.
     *
     * A scheduled action that throws is logged and dropped by the engine, as on Node. When the
     * run itself fails (the actor cannot be woken, storage refuses), the alarm is set again a
     * second later and the handler returns, as Node's timer does: Cloudflare would retry a
     * throwing handler only six times (from 2 s, doubling) and then drop the alarm. An alarm
     * whose handler never finishes (the object is reset mid-run) is still retried by the
     * platform, within those same six tries.
     */
    async alarm(): Promise<void> {
      // The platform's alarm is spent once this runs: whatever is still scheduled afterwards
      // needs a new one, even at the same time (an alarm that came a little early).
      this.alarms?.fired();
      let runtime: Runtime;
      try {
        runtime = await this.start();
      } catch (err) {
        await this.retryAlarm(err);
        return;
      }
      const { engine, driver } = runtime;
      const ids = new Set((await driver.listAlarms()).map((a) => a.actorId));
      for (const inst of engine.placement.live()) {
        if (inst.nextAlarmTime !== null) ids.add(inst.id);
      }
      let failure: { error: unknown } | undefined;
      for (const id of ids) {
        try {
          await engine.runAlarm(id);
        } catch (error) {
          failure ??= { error };
          log.error("could not run an alarm; retrying in 1 s", { actorId: id, error });
        }
      }
      if (failure) await this.retryAlarm(failure.error, false);
      await this.alarms?.settled();
    }

    /** Sets the alarm a second from now (kept in storage, like any alarm). */
    private async retryAlarm(error: unknown, logIt = true): Promise<void> {
      if (logIt) log.error("could not run an alarm; retrying in 1 s", { error });
      if (this.alarms) this.alarms.retryAt(Date.now() + ALARM_RETRY_MS);
      else await this.state.storage.setAlarm(Date.now() + ALARM_RETRY_MS);
      await this.alarms?.settled();
    }
  }

  return { handler, ActorHandler };
}

/**
 * The Worker's side of the protocol: answers `metadata` and routes everything else to the
 * actor's Durable Object. Bodies are read (within the size limit) only to find the actor.
 */
function createRouter(
  registry: Registry<any>,
  ns: DurableObjectNamespace,
  log: Logger,
  maxIncoming: number,
): Hono {
  const config = registry.config;
  const app = new Hono().basePath(registry.basePath);
  if (config.cors) app.use("*", corsMiddleware(config.cors));
  const stubFor = (query: ActorQuery): DurableObjectStub =>
    ns.get(ns.idFromString(stubIdOf(ns, registry, query)));

  const fail = (err: unknown) => {
    if (err instanceof TroupeError && err.public) {
      return errorResponse(err.status, err.code, err.message, err.metadata);
    }
    log.error("internal error while routing to an actor", { error: err });
    return errorResponse(500, "internal_error", "Internal error. Read the Worker logs.");
  };

  /** The body, parsed, and a copy of the request that still carries it. */
  const readJson = async (request: Request): Promise<{ body: unknown; forward: Request }> => {
    const bytes = await readBodyWithin(request, maxIncoming, "maxIncomingMessageSize");
    const text = new TextDecoder().decode(bytes);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new TroupeError("invalid_request", "The request body is not valid JSON.");
    }
    if (tooDeep(text, body)) throw new TroupeError("too_deep");
    const forward = new Request(request.url, {
      method: request.method,
      headers: request.headers,
      body: bytes,
    });
    return { body, forward };
  };

  app.get("/metadata", (c) =>
    c.json({ runtime: "troupe", version: 1, actorNames: Object.keys(config.use) }),
  );

  app.post("/actors/resolve", async (c) => {
    try {
      const { body, forward } = await readJson(c.req.raw);
      return await stubFor(parseQuery(body)).fetch(forward);
    } catch (err) {
      return fail(err);
    }
  });

  app.post("/actors/action/:action", async (c) => {
    try {
      const { body, forward } = await readJson(c.req.raw);
      const actor = (body as { actor?: unknown } | null)?.actor;
      return await stubFor(parseQuery(actor)).fetch(forward);
    } catch (err) {
      return fail(err);
    }
  });

  app.all("/gateway/:actorId/request/*", async (c) => {
    try {
      return await stubFor({ name: "", id: c.req.param("actorId") }).fetch(c.req.raw);
    } catch (err) {
      return fail(err);
    }
  });

  app.get("/gateway/:actorId/websocket/*", async (c) => {
    try {
      if (!isUpgrade(c.req.raw)) {
        throw new TroupeError("invalid_request", "This route expects a WebSocket upgrade.");
      }
      const refusal = upgradeOriginRefusal(
        config.cors,
        c.req.header("origin"),
        c.req.header("host"),
      );
      if (refusal) throw new TroupeError("origin_not_allowed", refusal);
      return await stubFor({ name: "", id: c.req.param("actorId") }).fetch(c.req.raw);
    } catch (err) {
      return fail(err);
    }
  });

  app.get("/actors/connect", (c) => {
    if (!isUpgrade(c.req.raw)) {
      return fail(new TroupeError("invalid_request", "This route expects a WebSocket upgrade."));
    }
    const refusal = upgradeOriginRefusal(config.cors, c.req.header("origin"), c.req.header("host"));
    return proxyConnection(c.req.raw, (query) => stubFor(query), refusal, log);
  });

  app.notFound((c) =>
    fail(new TroupeError("not_found", `No Troupe route for ${c.req.method} ${c.req.path}.`)),
  );
  app.onError((err) => fail(err));
  return app;
}

/**
 * A connection names its actor only in its first message (`init`), so the Worker accepts the
 * socket, reads `init`, opens a socket to the actor's Durable Object with the client's upgrade
 * headers, and relays frames both ways. The Durable Object runs the whole protocol; the Worker
 * only refuses what it cannot route (with an `error` frame and 4001, as PROTOCOL.md says).
 */
function proxyConnection(
  request: Request,
  stubFor: (query: ActorQuery) => DurableObjectStub,
  originRefusal: string | undefined,
  log: Logger,
): Response {
  const [client, server] = webSocketPair();
  server.accept();
  const refuse = (code: string, message: string) => {
    server.send(JSON.stringify({ t: "error", error: { code, message, metadata: null } }));
    server.close(4001, code);
  };
  if (originRefusal) {
    refuse("origin_not_allowed", originRefusal);
    return upgradeResponse(client);
  }
  let upstream: WorkersWebSocket | undefined;
  let closed = false;
  const early: (string | ArrayBuffer)[] = [];
  const timer = setTimeout(() => {
    if (!upstream && early.length === 0)
      refuse("invalid_request", "No init message within 10 seconds.");
  }, 10_000);

  const open = async (init: string | ArrayBuffer) => {
    let query: ActorQuery;
    try {
      if (typeof init !== "string") {
        return refuse("invalid_message", "Binary frames are not part of the protocol.");
      }
      let msg: { t?: unknown; actor?: unknown } | null;
      try {
        msg = JSON.parse(init);
      } catch {
        return refuse("invalid_message", "A frame is not valid JSON.");
      }
      if (msg?.t !== "init") return refuse("not_connected", "The first message must be init.");
      query = parseQuery(msg.actor);
    } catch (err) {
      const e = err instanceof TroupeError ? err : new TroupeError("invalid_request");
      return refuse(e.code, e.message);
    }
    try {
      const headers = new Headers(request.headers);
      headers.set("upgrade", "websocket");
      const response = await stubFor(query).fetch(new Request(request.url, { headers }));
      const socket = responseWebSocket(response);
      if (!socket) {
        const text = await response.text().catch(() => "");
        let error = { code: "internal_error", message: "The actor refused the connection." };
        try {
          error = (JSON.parse(text) as { error: typeof error }).error ?? error;
        } catch {}
        refuse(error.code, error.message);
        return;
      }
      socket.accept();
      upstream = socket;
      socket.addEventListener("message", (event) => {
        if (server.readyState === 1) server.send(event.data);
      });
      socket.addEventListener("close", (event) => {
        closed = true;
        if (server.readyState <= 1) server.close(closeCode(event.code), event.reason);
      });
      socket.addEventListener("error", () => {
        if (server.readyState <= 1) server.close(1011, "internal_error");
      });
      if (closed) socket.close(1000, "client gone");
      for (const frame of early) socket.send(frame);
      early.length = 0;
    } catch (err) {
      if (err instanceof TroupeError && err.public) refuse(err.code, err.message);
      else {
        log.error("could not reach an actor's Durable Object", { error: err });
        refuse("internal_error", "Internal error. Read the Worker logs.");
      }
    }
  };

  server.addEventListener("message", (event) => {
    if (upstream) {
      upstream.send(event.data);
      return;
    }
    early.push(event.data);
    if (early.length === 1) {
      clearTimeout(timer);
      void open(event.data);
    }
  });
  server.addEventListener("close", (event) => {
    clearTimeout(timer);
    if (closed) return;
    closed = true;
    if (upstream && upstream.readyState <= 1) upstream.close(closeCode(event.code), event.reason);
  });
  return upgradeResponse(client);
}

/**
 * The transport of the Worker's own client and of `c.client()`: every call goes through the
 * router in this isolate (never the network), sockets included. A connection's socket is the
 * client end of the router's relay (what an outside client gets from `/actors/connect`), accepted
 * here: it is open at once, and the relay sends `init` on to the actor's Durable Object. A
 * Durable Object holding such a socket stays in memory while it is open (standard sockets cannot
 * hibernate).
 */
function internalTransport(base: string, router: Hono): Transport {
  const http = httpTransport(base, async (input, init) => {
    const request = new Request(input as string, init);
    request.headers.set(INTERNAL_HEADER, "1");
    return router.fetch(request);
  });
  const upgrade = async (url: string, headers?: HeadersInit): Promise<WebSocketLike> => {
    const request = new Request(url, { headers: new Headers(headers) });
    request.headers.set("upgrade", "websocket");
    request.headers.set(INTERNAL_HEADER, "1");
    const response = await router.fetch(request);
    const socket = responseWebSocket(response);
    if (!socket) {
      const text = await response.text().catch(() => "");
      let error = { code: "internal_error", message: `HTTP ${response.status} from ${url}` };
      try {
        error = (JSON.parse(text) as { error: typeof error }).error ?? error;
      } catch {}
      throw new ActorError(error.code, error.message);
    }
    socket.accept();
    return socket as unknown as WebSocketLike;
  };
  return {
    ...http,
    openConnection: () => upgrade(`${base}/actors/connect`),
    openRawWebSocket: (actorId, path, protocols, opts) => {
      const rel = path.startsWith("/") ? path : `/${path}`;
      const url = new URL(`${base}/gateway/${encodeURIComponent(actorId)}/websocket${rel}`);
      if (opts?.skipReadyWait) url.searchParams.set("skipReadyWait", "1");
      const list = typeof protocols === "string" ? [protocols] : (protocols ?? []);
      return upgrade(
        url.toString(),
        list.length ? { "sec-websocket-protocol": list.join(", ") } : undefined,
      );
    },
  };
}

/** A request the Worker's own code made (see INTERNAL_HEADER). */
function isInternal(request: Request): boolean {
  return request.headers.get(INTERNAL_HEADER) === "1";
}

/**
 * The Durable Object that hosts a query's actor, as its hex id: `idFromName` over the same
 * injective (name, key) encoding as placement on Node, or the id's Durable Object part.
 */
function stubIdOf(ns: DurableObjectNamespace, registry: Registry<any>, query: ActorQuery): string {
  if ("id" in query) {
    const dot = query.id.indexOf(".");
    const hex = dot > 0 ? query.id.slice(0, dot) : "";
    try {
      if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error("not a Durable Object id");
      return ns.idFromString(hex).toString();
    } catch {
      throw new TroupeError("actor_not_found", `No actor has the id "${query.id.slice(0, 200)}".`);
    }
  }
  if (!Object.hasOwn(registry.config.use, query.name)) {
    throw new TroupeError(
      "unknown_actor_type",
      `There is no actor named "${String(query.name)}" in this registry. Known actors: ${Object.keys(registry.config.use).join(", ") || "none"}.`,
    );
  }
  return ns.idFromName(placementKey(query.name, normalizeKey(query.key))).toString();
}

/**
 * The Durable Object alarm as the engine's alarm service. One alarm per Durable Object: it is
 * set to the soonest alarm of the actors stored there (normally one).
 */
class DurableObjectAlarms implements AlarmService {
  private readonly next = new Map<string, number>();
  private current: number | null | undefined;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly log: Logger,
  ) {}

  restore(alarms: { actorId: string; at: number }[]): void {
    for (const { actorId, at } of alarms) this.next.set(actorId, at);
    this.apply();
  }

  set(actorId: string, at: number | null): void {
    if (at === null) this.next.delete(actorId);
    else this.next.set(actorId, at);
    this.apply();
  }

  close(): void {}

  /** The platform's alarm went off: it is no longer set, whatever time it had. */
  fired(): void {
    this.current = null;
  }

  /** A run failed: the alarm goes off again at `at`, or sooner if an actor's alarm is due sooner. */
  retryAt(at: number): void {
    this.current = undefined;
    this.apply(at);
  }

  /** Resolves once the alarm writes asked for so far are done. */
  settled(): Promise<void> {
    return this.pending;
  }

  private apply(retryAt?: number): void {
    let soonest: number | null = null;
    for (const at of this.next.values()) if (soonest === null || at < soonest) soonest = at;
    // A retry waits its delay even when an actor's alarm is already past due.
    if (retryAt !== undefined) soonest = soonest === null ? retryAt : Math.max(soonest, retryAt);
    if (soonest === this.current) return;
    this.current = soonest;
    const write = soonest === null ? this.storage.deleteAlarm() : this.storage.setAlarm(soonest);
    this.pending = write.catch((err) =>
      this.log.error("could not set the Durable Object alarm", { error: err }),
    );
  }
}

function closeQuietly(ws: WorkersWebSocket, code: number, reason: string): void {
  try {
    if (ws.readyState <= 1) ws.close(code, reason);
  } catch {
    // already closing
  }
}

function isUpgrade(request: Request): boolean {
  return request.headers.get("upgrade")?.toLowerCase() === "websocket";
}

function rawSocketPath(basePath: string, url: URL): { actorId: string; path: string } | undefined {
  const prefix = `${basePath}/gateway/`;
  if (!url.pathname.startsWith(prefix)) return undefined;
  const m = /^([^/]+)\/websocket(\/.*)?$/.exec(url.pathname.slice(prefix.length));
  return m ? { actorId: decodeURIComponent(m[1]!), path: m[2] ?? "/" } : undefined;
}

/**
 * A close code the Worker can relay. 1005, 1006 and 1015 only describe what happened (no code,
 * connection lost, TLS failure) and cannot be sent: the client hears 1001 and reconnects.
 */
function closeCode(code: number): number {
  if ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)) return code;
  if (code >= 3000 && code <= 4999) return code;
  return 1001;
}

function errorResponse(
  status: number,
  code: string,
  message: string,
  metadata?: unknown,
): Response {
  return Response.json(
    { error: { code, message, ...(metadata !== undefined ? { metadata } : {}) } },
    { status, headers: { "x-troupe-error": code } },
  );
}
