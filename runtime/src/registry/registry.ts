/**
 * `setup({ use })`: the registry. It holds the actor definitions and, on first use, starts an
 * engine (storage, placement, clock). It serves the HTTP protocol as a standard fetch handler
 * (`registry.handler`, mountable in any framework) or as its own Node server (`serve`/`start`).
 *
 * @example
 * const registry = setup({ use: { counter } });
 * registry.serve(); // http://localhost:6420/api/troupe
 */
import type { ServerType } from "@hono/node-server";
import type { Hono } from "hono";
import type { AnyActorDefinition } from "../actor/definition.js";
import { CLIENT_RESERVED_NAMES, HANDLE_RESERVED_NAMES } from "../client/client.js";
import { CONN_RESERVED_NAMES } from "../client/connection.js";
import { type Clock, systemClock } from "../clock.js";
import { createLogger, type Logger } from "../log.js";
import { type CorsOptions, validateCors } from "../protocol/cors.js";
import { createHttpApp } from "../protocol/http.js";
import type { AttachedWebSockets, WebSocketOptions } from "../protocol/node-ws.js";
import type { StorageDriver } from "../storage/driver.js";
import { openStorage, type StorageOption } from "../storage/open.js";
import { Engine } from "./engine.js";

export const DEFAULT_PORT = 6420;
export const DEFAULT_BASE_PATH = "/api/troupe";
export const DEFAULT_MAX_INCOMING_MESSAGE_SIZE = 1024 * 1024;

export interface RegistryConfig<TUse extends Record<string, AnyActorDefinition>> {
  use: TUse;
  /** Where actor state lives. Default: `TROUPE_STORAGE` env, else the file driver in `.troupe/`. */
  storage?: StorageOption;
  /** Where the protocol is mounted. Default `/api/troupe`. */
  basePath?: string;
  /** Largest request body accepted, in bytes. Default 1 MiB. */
  maxIncomingMessageSize?: number;
  /** Bytes queued to one slow client before its connection is dropped. Default 8 MiB. */
  maxOutgoingBuffer?: number;
  /**
   * Lets browser pages from other origins call the API (CORS, preflights included) and open
   * WebSockets (checked by `Origin`). Off by default: only same-origin pages and non-browser
   * clients. See the README's "Calling from another origin".
   */
  cors?: CorsOptions;
  /** Show internal error messages to clients. Default: on when NODE_ENV=development or TROUPE_EXPOSE_ERRORS=1. */
  exposeErrors?: boolean;
  /**
   * Most actors awake at once in this process. At the cap the actor idle the longest is put to
   * sleep to make room; a call that needs another actor is refused with `too_many_actors` (503)
   * only when none can sleep. Default: no cap.
   */
  maxLiveActors?: number;
  /**
   * Most WebSockets (connections and raw sockets, before and after `welcome`) open at once from
   * one client address; past it the upgrade is refused with 429 `too_many_connections`.
   * Default: no cap.
   */
  maxConnectionsPerAddress?: number;
  /**
   * The server runs behind a reverse proxy (Railway, a load balancer) that appends the client's
   * address to `X-Forwarded-For`: take it from there instead of the socket (which is the proxy's).
   * `true` trusts one proxy (the last entry); a number n trusts n proxies (the n-th entry from
   * the end). Never turn it on without such a proxy: clients could then pick their address.
   * Default: false.
   */
  trustProxy?: boolean | number;
  logger?: Logger;
}

export interface RuntimeOverrides {
  storage?: StorageOption;
  clock?: Clock;
}

export interface ServeOptions extends RuntimeOverrides {
  /** Port to listen on. Default: `PORT` env, else 6420. 0 picks a free port. */
  port?: number;
  hostname?: string;
}

export interface RunningServer {
  /** Resolves once the server listens. */
  readonly ready: Promise<void>;
  /** The listening port (after `ready`). */
  port: number;
  /** Server root, e.g. `http://localhost:6420` (after `ready`). */
  url: string;
  /** The registry's fetch handler. */
  fetch(request: Request): Promise<Response>;
  /** Stops accepting requests, stops every actor (saving state) and closes storage. */
  close(): Promise<void>;
}

export class Registry<TUse extends Record<string, AnyActorDefinition>> {
  readonly config: RegistryConfig<TUse>;
  private runtime: Promise<{ engine: Engine; app: Hono }> | undefined;

  constructor(config: RegistryConfig<TUse>) {
    if (!config || typeof config.use !== "object") {
      throw new TypeError("setup() expects { use: { actorName: actor({...}) } }.");
    }
    for (const name of Object.keys(config.use)) {
      if (CLIENT_RESERVED_NAMES.has(name)) {
        throw new TypeError(
          `setup(): an actor cannot be named "${name}": the client reserves that name (${[...CLIENT_RESERVED_NAMES].join(", ")}), so client.${name} could never reach it. Rename the actor.`,
        );
      }
      // A handle's or connection's own members win over actions of the same name (conn.status
      // is the connection's status), so such an action would be silently out of reach.
      for (const action of Object.keys(config.use[name]?.config?.actions ?? {})) {
        const clash = HANDLE_RESERVED_NAMES.has(action)
          ? "actor handles"
          : CONN_RESERVED_NAMES.has(action)
            ? "connections"
            : undefined;
        if (clash) {
          throw new TypeError(
            `setup(): actor "${name}" has an action named "${action}", which ${clash} on the client keep for themselves (${[...(clash === "actor handles" ? HANDLE_RESERVED_NAMES : CONN_RESERVED_NAMES)].join(", ")}), so it could never be called as .${action}(). Rename the action.`,
          );
        }
      }
    }
    if (config.cors) validateCors(config.cors);
    for (const option of ["maxLiveActors", "maxConnectionsPerAddress"] as const) {
      const value = config[option];
      if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
        throw new TypeError(`setup(): ${option} must be a positive integer (got ${value}).`);
      }
    }
    this.config = config;
  }

  get basePath(): string {
    return (this.config.basePath ?? DEFAULT_BASE_PATH).replace(/\/+$/, "");
  }

  /** Starts this registry's engine (once). Overrides apply only to the first start. */
  ensureRuntime(overrides: RuntimeOverrides = {}): Promise<{ engine: Engine; app: Hono }> {
    this.runtime ??= this.createRuntime(overrides);
    return this.runtime;
  }

  /** Builds a separate engine + app for this registry (used by `troupe/test`). */
  async createRuntime(overrides: RuntimeOverrides = {}): Promise<{ engine: Engine; app: Hono }> {
    const log = this.config.logger ?? createLogger();
    const driver: StorageDriver = await openStorage(overrides.storage ?? this.config.storage, log);
    const env = typeof process !== "undefined" ? process.env : {};
    const engine = new Engine({
      defs: this.config.use,
      driver,
      clock: overrides.clock ?? systemClock,
      log,
      exposeErrors:
        this.config.exposeErrors ??
        (env.NODE_ENV === "development" || env.TROUPE_EXPOSE_ERRORS === "1"),
      maxOutgoingBuffer: this.config.maxOutgoingBuffer,
      maxIncomingMessageSize: this.webSocketOptions.maxIncomingMessageSize,
      maxLiveActors: this.config.maxLiveActors,
    });
    await engine.start();
    const app = createHttpApp(engine, {
      basePath: this.basePath,
      maxIncomingMessageSize:
        this.config.maxIncomingMessageSize ?? DEFAULT_MAX_INCOMING_MESSAGE_SIZE,
      cors: this.config.cors,
    });
    return { engine, app };
  }

  /** Options for `attachWebSockets`. */
  get webSocketOptions(): WebSocketOptions {
    return {
      basePath: this.basePath,
      maxIncomingMessageSize:
        this.config.maxIncomingMessageSize ?? DEFAULT_MAX_INCOMING_MESSAGE_SIZE,
      cors: this.config.cors,
      maxConnectionsPerAddress: this.config.maxConnectionsPerAddress,
      trustProxy: this.config.trustProxy,
    };
  }

  /**
   * Accepts connections (`handle.connect()`) and raw WebSockets on a Node HTTP server you run
   * yourself, next to `app.all("/api/troupe/*", (c) => registry.handler(c.req.raw))`. Attach
   * before the server listens (`createAdaptorServer` from `@hono/node-server`, then `listen`):
   * until then an upgrade reaches the app as a plain request and gets a 404. `serve()` and
   * `troupe/server`'s `listen()` do this themselves.
   */
  async attachWebSockets(server: import("node:http").Server): Promise<AttachedWebSockets> {
    const { engine } = await this.ensureRuntime();
    const { attachWebSockets } = await import("../protocol/node-ws.js");
    return attachWebSockets(server, engine, this.webSocketOptions);
  }

  /**
   * Stops every actor (saving state, closing connections with 1001) and closes storage. For
   * registries mounted in your own server; `serve()` returns its own `close()` that does this.
   */
  async close(): Promise<void> {
    const rt = this.runtime;
    this.runtime = undefined;
    if (rt) await (await rt).engine.close();
  }

  /** Standard fetch handler: `app.all("/api/troupe/*", (c) => registry.handler(c.req.raw))`. */
  handler = async (request: Request): Promise<Response> => {
    const { app } = await this.ensureRuntime();
    return app.fetch(request);
  };

  /** Starts a Node HTTP server for this registry. */
  serve(options: ServeOptions = {}): RunningServer {
    const port = options.port ?? (process.env.PORT ? Number(process.env.PORT) : DEFAULT_PORT);
    let server: ServerType | undefined;
    let sockets: AttachedWebSockets | undefined;
    const running: RunningServer = {
      port,
      url: "",
      fetch: (req) => this.handler(req),
      ready: (async () => {
        const { app, engine } = await this.ensureRuntime(options);
        // Node-only modules load here, so that the registry itself also runs on other hosts
        // (Cloudflare Workers: see troupe/cloudflare).
        const [{ serve: serveNode }, { attachWebSockets }] = await Promise.all([
          import("@hono/node-server"),
          import("../protocol/node-ws.js"),
        ]);
        await new Promise<void>((resolve, reject) => {
          server = serveNode({ fetch: app.fetch, port, hostname: options.hostname }, (info) => {
            running.port = info.port;
            running.url = `http://${options.hostname && options.hostname !== "0.0.0.0" ? options.hostname : "localhost"}:${info.port}`;
            resolve();
          });
          server.once("error", reject);
        });
        sockets = attachWebSockets(
          server as import("node:http").Server,
          engine,
          this.webSocketOptions,
        );
      })(),
      close: async () => {
        await running.ready.catch(() => {});
        // Stop taking new work, then stop the actors (open connections get 1001 and reconnect
        // elsewhere, state is saved), then cut what is left and close the server.
        sockets?.stopAccepting();
        const closed = server
          ? new Promise<void>((r) => server!.close(() => r()))
          : Promise.resolve();
        const rt = await this.runtime;
        await rt?.engine.close();
        this.runtime = undefined;
        sockets?.close();
        if (server) {
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          await closed;
        }
      },
    };
    running.ready.catch((err) => {
      console.error(`[troupe] could not start the server on port ${port}:`, err);
      process.exitCode = 1;
    });
    return running;
  }

  /** Same as `serve()`. */
  start(options: ServeOptions = {}): RunningServer {
    return this.serve(options);
  }
}

export function setup<TUse extends Record<string, AnyActorDefinition>>(
  config: RegistryConfig<TUse>,
): Registry<TUse> {
  return new Registry(config);
}
