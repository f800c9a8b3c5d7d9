/**
 * Reading a request body within a size limit, shared by the runtime's own routes
 * (`protocol/http.ts`) and the `bodyLimit` middleware that apps put in front of theirs
 * (`troupe/hono`), so both refuse an oversized body the same way and never hold more than the
 * limit in memory.
 *
 * With a Content-Length (the usual case) the check is one header read, before a byte of the body
 * is read. Without one (chunked transfer) the body is counted while it streams, and reading stops
 * at the first chunk past the limit. (Hono's own bodyLimit middleware wraps every body in a web
 * stream, which cost ~70 µs per request on the runtime's hot path.)
 */
import { TroupeError } from "../errors.js";

/** `payload_too_large`, naming the limit and where it is set. */
export function payloadTooLarge(maxBytes: number, setting: string): TroupeError {
  return new TroupeError(
    "payload_too_large",
    `The request body is larger than ${maxBytes} bytes (${setting}).`,
  );
}

/**
 * The declared body size is over `maxBytes`. A Content-Length only frames the body when no
 * Transfer-Encoding is given (RFC 9112 §6.3), so only then is it trusted.
 */
export function declaresTooLarge(headers: Headers, maxBytes: number): boolean | undefined {
  const declared = headers.get("content-length");
  if (declared === null || headers.has("transfer-encoding")) return undefined;
  return Number(declared) > maxBytes;
}

/**
 * The whole body of `request`, or `payload_too_large` (naming `setting`) as soon as it is known
 * to exceed `maxBytes`. An absent body is empty.
 */
export async function readBodyWithin(
  request: Request,
  maxBytes: number,
  setting: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const tooLarge = declaresTooLarge(request.headers, maxBytes);
  if (tooLarge) throw payloadTooLarge(maxBytes, setting);
  if (tooLarge === false) return new Uint8Array(await request.arrayBuffer());
  const body = request.body;
  if (!body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw payloadTooLarge(maxBytes, setting);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array<ArrayBuffer>;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
