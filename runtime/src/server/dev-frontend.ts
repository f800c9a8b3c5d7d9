/**
 * The frontend of development as the app sees it. In production `serveFrontend(app, dir)`, mounted
 * after the app's routes, answers what those routes leave: static files and the SPA's index.html.
 * In development the same place hands those requests to Vite instead. `startApp` makes one and
 * gives it to the app's `start` as `frontend`; the app mounts it with `serveFrontend(app,
 * frontend)` exactly where production mounts the build; `troupe/vite` runs every request through
 * the app first and gets back only the ones that reach this. So every route of the app (the rate
 * limiter's `/v1/*`, not only `/api/*`) wins over the page fallback in development as it does in
 * production, and the pages, Vite's modules and hot reload come from Vite.
 *
 * @example
 * // server.ts, after every route (frontend: the build's directory, or this in development)
 * if (opts.frontend) serveFrontend(app, opts.frontend);
 */
import type { IncomingMessage } from "node:http";
import type { Context } from "hono";

export class DevFrontend {
  /**
   * Requests on their way through the app, each with what hands it on to Vite (weak: one the
   * app answered itself goes with its request).
   */
  readonly #waiting = new WeakMap<IncomingMessage, () => void>();
  /** Requests the app handed on: Vite answers them, whatever the app's handler returned. */
  readonly #handedOn = new WeakSet<object>();
  #mounted = false;

  /**
   * For `troupe/vite`: `request` is about to go through the app; if the app leaves it to the
   * frontend, `handOn` runs (Vite's next middleware) and Vite answers it.
   */
  expect(request: IncomingMessage, handOn: () => void): void {
    this.#waiting.set(request, handOn);
  }

  /** For `troupe/vite`: whether the app handed `request` on to Vite (which writes the answer). */
  handedOn(request: object): boolean {
    return this.#handedOn.has(request);
  }

  /** Whether an app mounted this (`serveFrontend`); `startApp` refuses to start Vite before. */
  get mounted(): boolean {
    return this.#mounted;
  }

  /** Called by `serveFrontend`. */
  markMounted(): void {
    this.#mounted = true;
  }

  /** The app's last handler: hands the request on to Vite, which writes the answer itself. */
  handle(c: Context): Response {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const handOn = incoming ? this.#waiting.get(incoming) : undefined;
    if (!incoming || !handOn) {
      // Reached without Vite in front: a request to the API's internal port.
      return c.text(
        "Not found. In development the pages come from the dev server: open the URL `dev` printed.",
        404,
      );
    }
    this.#waiting.delete(incoming);
    this.#handedOn.add(incoming);
    handOn();
    // Not written: `troupe/vite` sees the request was handed on and leaves the socket to Vite.
    return c.body(null, 204);
  }
}
