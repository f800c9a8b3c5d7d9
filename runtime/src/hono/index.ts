/**
 * `troupe/hono`: Hono middleware for the routes an app serves next to its actors.
 *
 * `bodyLimit({ maxBytes })` refuses a request body over `maxBytes` with the runtime's own check
 * (`protocol/body.ts`: Content-Length first, else a counted stream that stops at the limit), so
 * an app's sign-in or upload route cannot be made to buffer 200 MB. The refusal is the runtime's
 * JSON error, status 413:
 * `{ "error": { "code": "payload_too_large", "message": "…", "metadata": null } }`.
 *
 * @example
 * import { bodyLimit } from "troupe/hono";
 * const app = new Hono();
 * app.all("/api/troupe/*", (c) => registry.handler(c.req.raw)); // has its own limit
 * app.use("/api/auth/*", bodyLimit({ maxBytes: 64 * 1024 }));
 */
import type { MiddlewareHandler } from "hono";
import { TroupeError } from "../errors.js";
import { declaresTooLarge, payloadTooLarge, readBodyWithin } from "../protocol/body.js";

export interface BodyLimitOptions {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
}

export function bodyLimit({ maxBytes }: BodyLimitOptions): MiddlewareHandler {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new TypeError(`bodyLimit: maxBytes must be a whole number of bytes, got ${maxBytes}.`);
  }
  const setting = `this route's bodyLimit`;
  return async function bodyLimitMiddleware(c, next) {
    const raw = c.req.raw;
    const tooLarge = declaresTooLarge(raw.headers, maxBytes);
    if (tooLarge) return refuse(c, payloadTooLarge(maxBytes, setting));
    // A declared size within the limit frames the body: the server reads no more than that.
    if (tooLarge === false || !raw.body) return next();
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = await readBodyWithin(raw, maxBytes, setting);
    } catch (err) {
      if (err instanceof TroupeError) return refuse(c, err);
      throw err;
    }
    // The stream is consumed: hand the route the buffered body instead.
    c.req.raw = new Request(raw, { body });
    return next();
  };
}

function refuse(c: Parameters<MiddlewareHandler>[0], err: TroupeError): Response {
  return c.json(
    { error: { code: err.code, message: err.message, metadata: err.metadata ?? null } },
    err.status as 413,
    { "x-troupe-error": err.code },
  );
}
