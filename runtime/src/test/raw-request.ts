/**
 * An HTTP request the way an attacker sends it, for tests of body limits: any method with a body
 * (fetch refuses GET with one), a declared size or chunked transfer, and a body that may never
 * end. It resolves as soon as the answer arrives, whatever happens to the rest of the upload (the
 * server may stop reading and close the connection, which fetch reports as a failure instead of
 * the answer it already got).
 *
 * @example
 * const res = await rawRequest(`${url}/api/sign-in`, { method: "POST", chunks: repeatedChunks(65536) });
 * expect(res.status).toBe(413);
 */
import { request as httpRequest } from "node:http";

export interface RawRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A body with a Content-Length. */
  body?: string | Uint8Array;
  /** A chunked body (no Content-Length), written as the server reads it. */
  chunks?: Iterable<Uint8Array>;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): unknown;
}

export function rawRequest(url: string, opts: RawRequestOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(url, { method: opts.method ?? "GET", headers: opts.headers }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on("data", (b: Buffer) => parts.push(b));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(parts).toString("utf8");
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json: () => JSON.parse(text),
        });
        req.destroy();
      });
    });
    // After the answer, a failing upload is the server refusing the rest: expected.
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    if (opts.body !== undefined) {
      req.setHeader("content-length", Buffer.byteLength(opts.body));
      req.end(opts.body);
      return;
    }
    if (!opts.chunks) {
      req.end();
      return;
    }
    const chunks = opts.chunks[Symbol.iterator]();
    const pump = () => {
      while (!answered && !req.destroyed) {
        const next = chunks.next();
        if (next.done) {
          req.end();
          return;
        }
        if (!req.write(next.value)) {
          req.once("drain", pump);
          return;
        }
      }
    };
    pump();
  });
}

/** `count` chunks of `size` bytes ("x"), or endless ones without a count. */
export function* repeatedChunks(
  size: number,
  count = Number.POSITIVE_INFINITY,
): Generator<Uint8Array> {
  const chunk = new Uint8Array(size).fill(0x78);
  for (let i = 0; i < count; i++) yield chunk;
}
