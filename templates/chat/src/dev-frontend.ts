/**
 * The development frontend: a Vite dev server (hot module replacement) in this process, in front
 * of the API server. Vite answers the page and its modules and proxies `/api` (HTTP and the
 * WebSocket upgrade of `/api/troupe`) to the API server on its internal port, so the browser
 * sees one origin and `pnpm dev` prints one URL.
 *
 * Vite is imported lazily: it is a dev dependency, and `pnpm start` never loads this module.
 */
import type { ViteDevServer } from "vite";

export interface FrontendDevServer {
  url: string;
  close(): Promise<void>;
}

export async function startFrontendDevServer(opts: {
  port: number;
  host?: string;
  /** Where the API server listens, e.g. `http://127.0.0.1:41234`. */
  apiUrl: string;
}): Promise<FrontendDevServer> {
  const { createServer } = await import("vite");
  // Imported as a module (not read by Vite from disk) so that `tsx watch` also restarts on changes to it.
  const { default: config } = await import("../vite.config.js");
  const server: ViteDevServer = await createServer({
    ...config,
    configFile: false,
    logLevel: "warn",
    server: {
      port: opts.port,
      strictPort: true,
      host: opts.host,
      proxy: { "/api": { target: opts.apiUrl, ws: true } },
    },
  });
  await server.listen();
  const host = !opts.host || opts.host === "0.0.0.0" ? "localhost" : opts.host;
  return { url: `http://${host}:${opts.port}`, close: () => server.close() };
}
