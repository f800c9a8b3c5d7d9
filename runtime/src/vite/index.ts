/**
 * `troupe/vite`: the development frontend of an app, a Vite dev server (hot module replacement)
 * in the app's own process, in front of its API. The browser sees one origin and `dev` prints
 * one URL:
 *
 * - HTTP requests under `/api` are answered in-process by the API's own request handler (the
 *   one its server listens with), ahead of Vite's middlewares. Nothing is proxied, so answers
 *   are exactly production's: an over-limit body gets the JSON 413 (through an HTTP proxy, the
 *   API closing the connection after an early 413 turned into a bare 502 from the proxy).
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
 * const frontend = await startFrontendDevServer({
 *   config,
 *   port: 3000,
 *   apiUrl: server.url, // the API on an internal port
 *   apiFetch: app.fetch,
 * });
 * console.log(`ready on ${frontend.url}`);
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import type { Logger, Plugin, UserConfig, ViteDevServer } from "vite";

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
  /** The API's request handler (the app's Hono `fetch`), for every HTTP request under `/api`. */
  apiFetch: (request: Request, env?: unknown) => Response | Promise<Response>;
}): Promise<FrontendDevServer> {
  const { createLogger, createServer } = await import("vite");
  const { config } = opts;
  const server: ViteDevServer = await createServer({
    ...config,
    configFile: false,
    customLogger: withoutExpectedSocketResets(createLogger("warn")),
    plugins: [...(config.plugins ?? []), apiInProcess(opts.apiFetch)],
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

/** Answers `/api` HTTP requests with the API's handler, before Vite's own middlewares. */
function apiInProcess(
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>,
): Plugin {
  const listener = getRequestListener(fetch);
  return {
    name: "troupe-api-in-process",
    configureServer(vite) {
      // Added here (not in a returned function), so it runs ahead of Vite's middlewares.
      vite.middlewares.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
        const path = req.url ?? "";
        if (path === "/api" || path.startsWith("/api/") || path.startsWith("/api?")) {
          void listener(req, res);
        } else {
          next();
        }
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
