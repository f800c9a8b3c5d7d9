/**
 * Cross-origin access to the actor API, off unless the registry sets `cors`. Over HTTP it is plain
 * CORS (`hono/cors`): allowed origins get the `Access-Control-*` headers, preflights included, and
 * may read `x-troupe-error`. Browsers apply no CORS to WebSockets (any page may open one to any
 * host, with its cookies), so for upgrades the same option is an `Origin` check instead: a browser
 * page from an origin that is neither allowed nor this server's own is refused.
 *
 * @example
 * setup({ use, cors: { origin: ["https://game.example.com"] } });
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";

export interface CorsOptions {
  /**
   * Origins whose pages may call the API: one origin (`"https://app.example.com"`), a list, `"*"`
   * (any page, without credentials), or a function that decides per origin.
   */
  origin: string | readonly string[] | ((origin: string) => boolean);
  /** Lets pages send cookies and HTTP auth (`Access-Control-Allow-Credentials`). Not with `"*"`. */
  credentials?: boolean;
  /** How long a browser may reuse a preflight's answer, in seconds. Default 600. */
  maxAge?: number;
  /** Response headers pages may read besides `x-troupe-error` (e.g. your `onRequest` headers). */
  exposeHeaders?: readonly string[];
}

/** The header every Troupe error carries (PROTOCOL.md); pages need it to read the code. */
const ERROR_HEADER = "x-troupe-error";

/** Checks the option once, at `setup()`, so a typo fails at start and not in a user's browser. */
export function validateCors(options: CorsOptions): void {
  const { origin } = options;
  if (typeof origin === "function") return;
  const list = typeof origin === "string" ? [origin] : origin;
  if (!Array.isArray(list) || list.some((o) => typeof o !== "string")) {
    throw new TypeError(
      'setup(): cors.origin must be an origin, a list of origins, "*" or a function.',
    );
  }
  for (const o of list) {
    if (o === "*") {
      if (list.length > 1) throw new TypeError('setup(): cors.origin "*" cannot be in a list.');
      if (options.credentials) {
        throw new TypeError(
          'setup(): cors.origin "*" cannot be combined with credentials (browsers refuse it); list the origins instead.',
        );
      }
      continue;
    }
    let parsed: string | undefined;
    try {
      parsed = new URL(o).origin;
    } catch {
      // reported below
    }
    if (parsed !== o) {
      throw new TypeError(
        `setup(): cors.origin "${o}" is not an origin; write it as scheme://host[:port], e.g. "https://app.example.com" (no path, no trailing slash).`,
      );
    }
  }
}

/** Whether a page from `origin` may use the API under this option. */
function originAllowed(options: CorsOptions, origin: string): boolean {
  const allowed = options.origin;
  if (typeof allowed === "function") return allowed(origin) === true;
  if (allowed === "*") return true;
  return typeof allowed === "string" ? allowed === origin : allowed.includes(origin);
}

/** The `hono/cors` middleware for the option. */
export function corsMiddleware(options: CorsOptions): MiddlewareHandler {
  const { origin } = options;
  return cors({
    origin:
      origin === "*"
        ? "*"
        : (requestOrigin) =>
            requestOrigin && originAllowed(options, requestOrigin) ? requestOrigin : null,
    credentials: options.credentials,
    maxAge: options.maxAge ?? 600,
    exposeHeaders: [ERROR_HEADER, ...(options.exposeHeaders ?? [])],
  });
}

/**
 * For a WebSocket upgrade: why it is refused, or undefined when it may proceed. Without the option
 * nothing is checked (as before). With it, an upgrade passes when it has no `Origin` (not a
 * browser: Node clients, servers), when the page comes from this server itself (the Origin's host
 * is the request's Host), or when the origin is allowed.
 */
export function upgradeOriginRefusal(
  options: CorsOptions | undefined,
  origin: string | undefined,
  host: string | undefined,
): string | undefined {
  if (!options || !origin) return undefined;
  let originHost: string | undefined;
  try {
    originHost = new URL(origin).host;
  } catch {
    // "null" (sandboxed pages, file://) and garbage: not this server; the list decides.
  }
  if (originHost !== undefined && originHost === host) return undefined;
  if (originAllowed(options, origin)) return undefined;
  return `Pages from ${origin} may not open WebSockets to this server (the registry's cors.origin does not allow it).`;
}
