/**
 * `troupe/vite`: the development frontend of an app, a Vite dev server (hot module replacement)
 * in the app's own process, in front of its API. The browser sees one origin and `dev` prints
 * one URL:
 *
 * - Every HTTP request goes first, in-process, to the app's own request handler (the one its
 *   server listens with), ahead of Vite's middlewares, exactly as in production where the app
 *   answers everything: its routes, wherever they live (`/api`, the rate limiter's `/v1`), win.
 *   What the routes leave reaches the app's `serveFrontend(app, frontend)`, where production
 *   serves the build; here that hands the request on to Vite (pages, modules, the SPA
 *   fallback). Nothing is proxied, so answers are exactly production's: an over-limit body gets
 *   the JSON 413 (through an HTTP proxy, the API closing the connection after an early 413
 *   turned into a bare 502 from the proxy).
 * - The WebSocket upgrade of `/api/troupe` is proxied to the API server on its internal port.
 *   A tab that closes or a network that drops resets that socket: expected, so those resets are
 *   not logged; every other proxy error still is.
 *
 * Vite is imported lazily and is the app's dev dependency (an optional peer of the runtime):
 * production (`start`) never loads this module.
 *
 * @example
 * const { startFrontendDevServer } = await import("troupe/vite");
 * const { default: config } = await import("../vite.config.js");
 * const frontend = new DevFrontend(); // troupe/server
 * // ... the app, with serveFrontend(app, frontend) after its routes ...
 * const dev = await startFrontendDevServer({
 *   config,
 *   port: 3000,
 *   apiUrl: server.url, // the API on an internal port
 *   apiFetch: app.fetch, // which mounted `frontend` with serveFrontend(app, frontend)
 *   frontend,
 * });
 * console.log(`ready on ${dev.url}`);
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Logger, Plugin, UserConfig, ViteDevServer } from "vite";
import type { DevFrontend } from "../server/dev-frontend.js";

export interface FrontendDevServer {
  url: string;
  close(): Promise<void>;
}

export async function startFrontendDevServer(opts: {
  /**
   * The app's Vite config, imported by the app (`import("../vite.config.js")`) rather than read
   * from disk by Vite, so that `tsx watch` restarts the process when it changes too.
   */
  config: UserConfig;
  port: number;
  host?: string;
  /** Where the API server listens, e.g. `http://127.0.0.1:41234` (for the WebSocket upgrade). */
  apiUrl: string;
  /** The app's request handler (its Hono `fetch`): every HTTP request goes to it first. */
  apiFetch: (request: Request, env?: unknown) => Response | Promise<Response>;
  /** What the app mounted after its routes (`serveFrontend(app, frontend)`), to hand on to Vite. */
  frontend: DevFrontend;
}): Promise<FrontendDevServer> {
  const { createLogger, createServer } = await import("vite");
  const { config } = opts;
  const server: ViteDevServer = await createServer({
    ...config,
    configFile: false,
    customLogger: withoutExpectedSocketResets(createLogger("warn")),
    plugins: [...(config.plugins ?? []), appFirst(opts.apiFetch, opts.frontend)],
    server: {
      port: opts.port,
      strictPort: true,
      host: opts.host,
      proxy: { "/api/troupe": { target: opts.apiUrl, ws: true } },
    },
  });
  await server.listen();
  const host = !opts.host || opts.host === "0.0.0.0" ? "localhost" : opts.host;
  return { url: `http://${host}:${opts.port}`, close: () => server.close() };
}

/**
 * Every HTTP request through the app first, before Vite's own middlewares (its proxy, modules,
 * static files, SPA fallback); the app hands back, through `frontend`, what its routes leave.
 * WebSocket upgrades (Vite's hot reload, the proxied `/api/troupe`) are not middleware requests.
 */
function appFirst(
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>,
  frontend: DevFrontend,
): Plugin {
  const listener = getRequestListener(async (request, env) => {
    const response = await fetch(request, env);
    // Handed on: Vite is answering on the socket itself, so the adapter must write nothing.
    // A copy, not the constant: loaded after the API server started (this module is imported
    // then), the constant is the adapter's own lightweight Response, which it writes out (an
    // empty 200) without looking for its marker; a copy is a standard Response, marker and all.
    // (startApp's development test fails with the constant.)
    return frontend.handedOn(env.incoming) ? RESPONSE_ALREADY_SENT.clone() : response;
  });
  return {
    name: "troupe-app-first",
    configureServer(vite) {
      // Added here (not in a returned function), so it runs ahead of Vite's middlewares.
      vite.middlewares.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
        frontend.expect(req, next);
        void listener(req, res);
      });
    },
  };
}

/** The codes of a socket the other side reset or closed under a write. */
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/** Vite's logger without the WebSocket proxy's errors for sockets the browser side reset. */
function withoutExpectedSocketResets(logger: Logger): Logger {
  const error = logger.error.bind(logger);
  logger.error = (message, options) => {
    const code = (options?.error as NodeJS.ErrnoException | null | undefined)?.code;
    if (/ws proxy (socket )?error/.test(message) && code && RESET_CODES.has(code)) return;
    error(message, options);
  };
  return logger;
}
