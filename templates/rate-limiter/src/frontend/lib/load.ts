/**
 * The dashboard's "Send load": real requests from the browser to the public API with an API
 * key, at a steady pace for a few seconds, over both endpoints, so the live chart moves and
 * the limits show. Counts the answers by status as they come.
 */
export interface LoadOptions {
  key: string;
  /** Requests per second, spread over the endpoints. */
  rate: number;
  seconds: number;
  signal?: AbortSignal;
  /** Called after every answer with the counts so far, by HTTP status ("error": no answer). */
  onProgress?: (counts: Record<string, number>) => void;
}

export const LOAD_PATHS = ["/v1/quotes", "/v1/weather/paris", "/v1/quotes/2", "/v1/weather/oslo"];

export async function sendLoad(opts: LoadOptions): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const total = Math.round(opts.rate * opts.seconds);
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < total && !opts.signal?.aborted; i++) {
    // Paced: request i leaves at i / rate seconds (no burst at the start).
    const due = started + (i * 1000) / opts.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (opts.signal?.aborted) break;
    const path = LOAD_PATHS[i % LOAD_PATHS.length]!;
    const request: Promise<void> = fetch(path, {
      headers: { authorization: `Bearer ${opts.key}` },
      signal: opts.signal,
    })
      .then(
        (res) => {
          void res.body?.cancel();
          return String(res.status);
        },
        () => "error",
      )
      .then((status) => {
        if (opts.signal?.aborted) return;
        counts[status] = (counts[status] ?? 0) + 1;
        opts.onProgress?.({ ...counts });
      })
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
    // The browser opens few connections per host: do not queue more than it can send.
    if (inFlight.size >= 16) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return counts;
}

/** The `curl` line for a key: a request to the public API, ready to paste. */
export function curlLine(origin: string, key: string): string {
  return `curl -i ${origin}/v1/quotes -H "authorization: Bearer ${key}"`;
}
