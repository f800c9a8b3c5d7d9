/**
 * `handle.connect()`: a live connection to one actor over one WebSocket at a time (the
 * "Connections" part of runtime/PROTOCOL.md), which survives drops and server restarts.
 *
 * Why it is built this way:
 * - The public object is a Proxy, like a handle: any property that is not a connection method is an
 *   action. `then` is undefined so `await conn` does not call an action.
 * - Everything the user asked for (listeners, queued calls) lives on the connection, not on the
 *   socket. A socket is disposable: each attempt gets a fresh one (and fresh `getParams()`), and at
 *   `welcome` the connection re-sends `sub` for every event that still has listeners, then flushes
 *   the calls queued meanwhile. Calls that were on the wire when a socket died are never resent
 *   (they may have run): they fail with `connection_lost`.
 * - `conn.notify.<action>()` sends an action without an id: the server answers nothing, so there
 *   is nothing to track, and it is never queued (sent at once or dropped).
 * - Only the WebSocketLike subset of the browser API is used, so the same code runs on browser
 *   WebSockets, the `ws` package (Node 20) and in-process pairs. With `ws`, an "error" listener must
 *   always be attached (an EventEmitter throws on an unheard "error"), and listeners must not throw.
 *
 * Status scheme: `idle` until the first attempt starts (a microtask after creation, so listeners
 * added right after `connect()` see every change), `connecting` from then on until `welcome`,
 * including the backoff waits between attempts after a drop, `connected` between `welcome` and the
 * socket's close, and `disconnected` ONLY when the connection is over for good (dispose(), a
 * rejected `init`, or the actor closing it with 1000). So `connected -> connecting -> connected` is
 * a reconnect, and `disconnected` is final.
 *
 * Timers: the reconnect timer keeps a Node process alive, as the socket it stands in for would (an
 * event listener script must not exit during a server restart); the per-call queue timers and the
 * close safety timers are unref'd. dispose() clears them all.
 */
import { ActorError } from "./errors.js";
import type { Transport, WebSocketLike, WireQuery } from "./transport.js";
import type { ActorConn, ActorConnMethods, ActorErrorLike, ConnStatus } from "./types.js";

/** Tunables of a connection (all optional; the defaults suit browsers and servers alike). */
export interface ConnectOptions {
  /** First reconnect delay bound, in ms (full jitter: the wait is random in [0, bound]). Default 250. */
  reconnectInitialDelay?: number;
  /** Growth of the bound per failed attempt. Default 2. */
  reconnectFactor?: number;
  /** Largest bound, in ms. Default 8000. */
  reconnectMaxDelay?: number;
  /** How long an action may wait for a connection before failing with `connection_unavailable`. Default 15000 ms. */
  queueTimeout?: number;
  /** How many actions may wait for a connection; more fail with `connection_unavailable`. Default 1000. */
  maxQueue?: number;
  /** Largest action message sent, in UTF-8 bytes; larger calls fail with `payload_too_large`. Default 1 MiB. */
  maxMessageSize?: number;
  /** How long an attempt may take from opening the socket to `welcome` before it is retried. Default 20000 ms. */
  connectTimeout?: number;
}

export interface ConnectionOptions extends ConnectOptions {
  /** Connection parameters sent in `init` (e.g. an auth token). */
  params?: unknown;
  /** Called before every connection attempt (so a fresh token is used); wins over `params`. */
  getParams?: () => unknown | Promise<unknown>;
}

type Listener = (...args: any[]) => void;

interface Call {
  id: number;
  name: string;
  /** The serialized `action` message (serialized at call time: arguments are a snapshot). */
  text: string;
  resolve: (value: unknown) => void;
  reject: (error: ActorError) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/** One socket's life. Handlers check `attempt === this.current` and ignore stale sockets. */
interface Attempt {
  socket?: WebSocketLike;
  opened: boolean;
  welcomed: boolean;
  /** The `error` frame that rejected `init`, if any (the 4001 close follows). */
  rejection?: ActorError;
  /** Connection-level codes already reported via onError for this socket (avoid doubles). */
  reported: Set<string>;
  connectTimer?: ReturnType<typeof setTimeout>;
  /** The event names `init` subscribed to (the server holds them from the start). */
  initSubs?: ReadonlySet<string>;
}

/** Refusal codes that say "not now" rather than "no": the client tries again with backoff. */
const TRANSIENT_REFUSALS = new Set([
  "actor_stopping",
  "internal_error",
  "too_many_actors",
  "storage_error",
]);

/** Close code of `conn.disconnect(reason, { reconnect: true })` (PROTOCOL.md). */
const RECONNECT_WITH_FRESH_PARAMS = 4003;

const CLOSE_CODE_ERRORS: Record<number, string> = {
  1008: "too_many_errors",
  1009: "message_too_large",
  4008: "send_buffer_full",
};

/** Every ActorConnMethods key; the Record type makes the compiler flag a missing or extra one. */
const CONN_METHOD_KEYS: Record<keyof ActorConnMethods, true> = {
  on: true,
  once: true,
  onOpen: true,
  onClose: true,
  onError: true,
  onStatusChange: true,
  status: true,
  connId: true,
  action: true,
  notify: true,
  dispose: true,
};
const CONN_METHODS = new Set<string>(Object.keys(CONN_METHOD_KEYS));
/** Names a connection keeps for itself: an action with one of them is out of `conn.<name>()`'s reach. */
export const CONN_RESERVED_NAMES: ReadonlySet<string> = new Set([...CONN_METHODS, "then"]);

const OPEN = 1;
const CLOSED = 3;

/** setTimeout from globalThis; `unref` (Node) when the timer must not keep the process alive. */
function timer(fn: () => void, ms: number, unref: boolean): ReturnType<typeof setTimeout> {
  const handle = globalThis.setTimeout(fn, ms);
  if (unref) (handle as { unref?: () => void }).unref?.();
  return handle;
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}

/** Whether `text` is over `limit` UTF-8 bytes. A UTF-16 unit is 1 to 3 bytes: encode only if unsure. */
function overLimit(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return utf8Length(text) > limit;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  const e = err as { message?: unknown; error?: { message?: unknown } } | undefined;
  if (typeof e?.message === "string" && e.message) return e.message;
  if (typeof e?.error?.message === "string") return e.error.message;
  // A browser's WebSocket "error" event says nothing more.
  return err && typeof err === "object" ? "WebSocket error" : String(err);
}

/** The wire error shape `{ code, message, metadata }` as an ActorError; undefined if malformed. */
function wireError(e: unknown): ActorError | undefined {
  if (!e || typeof e !== "object") return undefined;
  const { code, message, metadata } = e as {
    code?: unknown;
    message?: unknown;
    metadata?: unknown;
  };
  if (typeof code !== "string" || !code) return undefined;
  return new ActorError(code, typeof message === "string" ? message : code, metadata);
}

class Connection {
  status: ConnStatus = "idle";
  connId: string | undefined;

  private readonly transport: Transport;
  private readonly query: WireQuery;
  private readonly opts: ConnectionOptions;
  private readonly initialDelay: number;
  private readonly factor: number;
  private readonly maxDelay: number;
  private readonly queueTimeout: number;
  private readonly maxQueue: number;
  private maxMessageSize: number;
  private readonly explicitMaxMessageSize: boolean;
  private readonly connectTimeout: number;

  private current: Attempt | undefined;
  private failures = 0;
  /** When the server last closed with 4003 (ms), to tell a one-off from a loop. */
  private lastFreshParamsRequest = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set when the connection is over: later calls reject with it. */
  private finalError: ActorError | undefined;
  private disposed: Promise<void> | undefined;
  /** Why the last attempt failed, for `connection_unavailable` messages. */
  private lastFailure: string | undefined;
  /** Whether `network_error` was reported since the last welcome (reported once per outage). */
  private outageReported = false;

  private nextId = 1;
  private readonly queue: Call[] = [];
  private readonly inFlight = new Map<number, Call>();
  private readonly listeners = new Map<string, Set<{ cb: Listener; once: boolean }>>();
  private readonly openCbs = new Set<() => void>();
  private readonly closeCbs = new Set<(event: { code: number; reason: string }) => void>();
  private readonly errorCbs = new Set<(error: ActorErrorLike) => void>();
  private readonly statusCbs = new Set<(status: ConnStatus) => void>();

  constructor(transport: Transport, query: WireQuery, opts: ConnectionOptions) {
    this.transport = transport;
    this.query = query;
    this.opts = opts;
    this.initialDelay = opts.reconnectInitialDelay ?? 250;
    this.factor = opts.reconnectFactor ?? 2;
    this.maxDelay = opts.reconnectMaxDelay ?? 8000;
    this.queueTimeout = opts.queueTimeout ?? 15_000;
    this.maxQueue = opts.maxQueue ?? 1000;
    this.maxMessageSize = opts.maxMessageSize ?? 1024 * 1024;
    this.explicitMaxMessageSize = opts.maxMessageSize !== undefined;
    this.connectTimeout = opts.connectTimeout ?? 20_000;
    wakeSignals(this.retryNow, true);
    queueMicrotask(() => {
      if (!this.finalError) void this.attempt();
    });
  }

  /**
   * In a browser, coming back online or back to the tab retries at once instead of waiting out
   * the backoff (which may be seconds after a long outage).
   */
  private readonly retryNow = (): void => {
    if (this.reconnectTimer === undefined || this.finalError) return;
    if ((globalThis as { document?: Document }).document?.visibilityState === "hidden") return;
    clearTimeout(this.reconnectTimer);
    void this.attempt();
  };

  // ---- public API ----------------------------------------------------------------------------

  call(name: string, args: unknown[]): Promise<unknown> {
    if (this.finalError) return Promise.reject(this.finalError);
    const id = this.nextId++;
    let text: string;
    try {
      text = this.actionFrame(name, args, id);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const call: Call = { id, name, text, resolve, reject };
      if (this.status === "connected" && this.current?.socket?.readyState === OPEN) {
        this.sendCall(call);
        return;
      }
      if (this.queue.length >= this.maxQueue) {
        reject(
          this.unavailable(`${this.maxQueue} calls are already waiting for it (maxQueue)`, name),
        );
        return;
      }
      call.timer = timer(
        () => {
          const i = this.queue.indexOf(call);
          if (i >= 0) this.queue.splice(i, 1);
          reject(this.unavailable(`none came within ${this.queueTimeout} ms (queueTimeout)`, name));
        },
        this.queueTimeout,
        true,
      );
      this.queue.push(call);
    });
  }

  /**
   * `conn.notify.<name>(...args)`: an action message without an id, so the server sends no reply.
   * Dropped (false) unless the socket is open: queued inputs would arrive late and all at once,
   * and a queue here would have to be bounded anyway. Arguments that cannot be sent throw, as
   * they are a bug whatever the connection's state.
   */
  notify(name: string, args: unknown[]): boolean {
    const text = this.actionFrame(name, args);
    const socket = this.current?.socket;
    if (this.status !== "connected" || socket?.readyState !== OPEN) return false;
    try {
      socket.send(text);
      return true;
    } catch {
      // The socket is going away; its close event starts the reconnect.
      return false;
    }
  }

  /**
   * The text of an action frame (`id` given: a call; none: a notification), checked before
   * anything is sent: a name, arguments JSON can carry, within the server's `maxMessageSize`.
   * Throws an `ActorError` otherwise.
   */
  private actionFrame(name: string, args: unknown[], id?: number): string {
    if (typeof name !== "string" || !name) {
      throw new ActorError("invalid_request", "An action name must be a string.");
    }
    let text: string;
    try {
      text = JSON.stringify({ t: "action", id, name, args: Array.isArray(args) ? args : [] });
    } catch (err) {
      throw new ActorError(
        "invalid_arguments",
        `The arguments of "${name}" cannot be sent as JSON: ${describe(err)}`,
        undefined,
        { cause: err },
      );
    }
    if (overLimit(text, this.maxMessageSize)) {
      const size = utf8Length(text);
      const what = id === undefined ? `notification "${name}"` : `call to "${name}"`;
      throw new ActorError(
        "payload_too_large",
        `The ${what} is ${size} bytes, over the limit of ${this.maxMessageSize} bytes (maxMessageSize). It was not sent.`,
        { size, limit: this.maxMessageSize },
      );
    }
    return text;
  }

  on(name: string, cb: Listener, once: boolean): () => void {
    if (typeof name !== "string" || typeof cb !== "function") {
      throw new TypeError("on(eventName, callback) expects a string and a function.");
    }
    const entry = { cb, once };
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
      // The first listener subscribes. Before `welcome` nothing is sent: `init` carries the
      // names listened to when it went out, and `welcome` sends `sub` for any added since.
      if (this.status === "connected") this.sendRaw({ t: "sub", event: name });
    }
    set.add(entry);
    // The spec's auth page listens with conn.on("error", ...): connection errors (a refused
    // connect, say) reach such listeners too, besides any event the actor names "error".
    const offError =
      name === "error"
        ? this.addCallback(this.errorCbs, (error) => {
            if (once) this.removeListener(name, entry);
            cb(error);
          })
        : undefined;
    return () => {
      offError?.();
      this.removeListener(name, entry);
    };
  }

  onOpen(cb: () => void): () => void {
    return this.addCallback(this.openCbs, cb);
  }
  onClose(cb: (event: { code: number; reason: string }) => void): () => void {
    return this.addCallback(this.closeCbs, cb);
  }
  onError(cb: (error: ActorErrorLike) => void): () => void {
    return this.addCallback(this.errorCbs, cb);
  }
  onStatusChange(cb: (status: ConnStatus) => void): () => void {
    return this.addCallback(this.statusCbs, cb);
  }

  dispose(): Promise<void> {
    if (this.disposed) return this.disposed;
    const error = new ActorError(
      "connection_disposed",
      `The connection to actor "${this.query.name}" was disposed.`,
    );
    const socket = this.current?.socket;
    this.end(error);
    this.finalError = error; // also after a rejection: from now on calls say "disposed"
    this.disposed = new Promise<void>((resolve) => {
      if (!socket || socket.readyState === CLOSED) return resolve();
      // The attempt's own close listener (registered earlier) reports onClose before this runs.
      let safety: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        socket.removeEventListener("close", done);
        if (safety !== undefined) clearTimeout(safety);
        resolve();
      };
      socket.addEventListener("close", done);
      // A socket that never reports its close (a broken implementation) must not hang dispose().
      safety = timer(done, 2000, true);
      try {
        socket.close(1000, "disposed");
      } catch {
        done();
      }
    });
    return this.disposed;
  }

  // ---- attempts ------------------------------------------------------------------------------

  private async attempt(): Promise<void> {
    this.reconnectTimer = undefined;
    const attempt: Attempt = { opened: false, welcomed: false, reported: new Set() };
    this.current = attempt;
    this.setStatus("connecting");

    let params: unknown;
    try {
      params = this.opts.getParams ? await this.opts.getParams() : this.opts.params;
    } catch (err) {
      if (this.current !== attempt) return;
      // Transient as far as we can tell (e.g. the token service is down): report, retry.
      this.reportError(
        new ActorError(
          "connection_params_failed",
          `getParams() failed: ${describe(err)}`,
          undefined,
          {
            cause: err,
          },
        ),
      );
      this.retry(attempt, `getParams() failed: ${describe(err)}`);
      return;
    }
    if (this.current !== attempt) return;

    let init: string;
    try {
      // The names listened to so far ride in `init`, so events the actor broadcasts in onConnect
      // or right after `welcome` reach them (a `sub` after `welcome` would miss those).
      const subs = [...this.listeners.keys()];
      attempt.initSubs = new Set(subs);
      init = JSON.stringify({
        t: "init",
        actor: this.query,
        params,
        ...(subs.length > 0 ? { subs } : {}),
      });
    } catch (err) {
      this.reject(
        new ActorError(
          "invalid_params",
          `The connection params cannot be sent as JSON: ${describe(err)}`,
          undefined,
          { cause: err },
        ),
      );
      return;
    }
    if (overLimit(init, this.maxMessageSize)) {
      this.reject(
        new ActorError(
          "payload_too_large",
          `The connection params make the init message ${utf8Length(init)} bytes, over the limit of ${this.maxMessageSize} (maxMessageSize).`,
        ),
      );
      return;
    }

    let socket: WebSocketLike;
    try {
      socket = await this.transport.openConnection();
    } catch (err) {
      if (this.current !== attempt) return;
      this.unreachable(attempt, `could not open the WebSocket: ${describe(err)}`, err);
      return;
    }
    // With `ws`, an unheard "error" event throws: keep a listener for the socket's whole life.
    socket.addEventListener("error", (event) => {
      if (this.current === attempt) this.lastFailure = describe(event);
    });
    if (this.current !== attempt) {
      closeQuietly(socket);
      return;
    }
    attempt.socket = socket;
    attempt.connectTimer = timer(
      () => {
        if (this.current !== attempt || attempt.welcomed) return;
        closeQuietly(socket);
        this.unreachable(attempt, `no welcome within ${this.connectTimeout} ms (connectTimeout)`);
      },
      this.connectTimeout,
      true,
    );

    const onOpen = () => {
      if (this.current !== attempt || attempt.opened) return;
      attempt.opened = true;
      try {
        socket.send(init);
      } catch (err) {
        closeQuietly(socket);
        this.unreachable(attempt, `could not send init: ${describe(err)}`, err);
      }
    };
    socket.addEventListener("open", onOpen);
    socket.addEventListener("message", (event) => {
      if (this.current === attempt) this.onMessage(attempt, event?.data);
    });
    socket.addEventListener("close", (event) => {
      const code = typeof event?.code === "number" ? event.code : 1006;
      const reason = typeof event?.reason === "string" ? event.reason : "";
      if (this.current === attempt) this.onSocketClose(attempt, code, reason);
      // onClose reports every socket that opened, whatever happened to the connection since.
      if (attempt.opened) this.emit(this.closeCbs, { code, reason });
    });
    if (socket.readyState === OPEN) onOpen();
  }

  /** The server could not be reached: reported once per outage (not at every retry), retried. */
  private unreachable(attempt: Attempt, reason: string, cause?: unknown): void {
    if (!this.outageReported) {
      this.outageReported = true;
      this.reportError(
        new ActorError(
          "network_error",
          `Could not connect to actor "${this.query.name}": ${reason}. Retrying.`,
          undefined,
          { cause },
        ),
      );
    }
    this.retry(attempt, reason);
  }

  /** This attempt is over but the connection is not: keep queued calls, retry after a backoff. */
  private retry(attempt: Attempt, reason: string, delayMs?: number): void {
    // An onError callback may have disposed the connection, or a newer attempt may exist.
    if (this.current !== attempt || this.finalError) return;
    if (attempt.connectTimer !== undefined) clearTimeout(attempt.connectTimer);
    this.current = undefined;
    this.lastFailure = reason;
    // Full jitter: a random wait in [0, bound], the bound growing per failed attempt up to a cap.
    const bound = Math.min(this.maxDelay, this.initialDelay * this.factor ** this.failures);
    this.failures++;
    this.setStatus("connecting");
    this.reconnectTimer = timer(() => void this.attempt(), delayMs ?? Math.random() * bound, false);
  }

  // ---- socket events -------------------------------------------------------------------------

  private onSocketClose(attempt: Attempt, code: number, reason: string): void {
    if (attempt.connectTimer !== undefined) clearTimeout(attempt.connectTimer);
    if (attempt.welcomed) this.connId = undefined;
    this.failInFlight(code, reason);
    const why = `the socket closed with ${code}${reason ? ` (${reason})` : ""}`;

    if (!attempt.opened) {
      this.unreachable(attempt, this.lastFailure ? `${this.lastFailure}; ${why}` : why);
    } else if (TRANSIENT_REFUSALS.has(attempt.rejection?.code ?? reason)) {
      // The actor is shutting down, or the server failed (e.g. a storage blip): try again.
      this.retry(attempt, why);
    } else if (code === 4001) {
      this.reject(
        attempt.rejection ??
          new ActorError(
            reason || "connection_rejected",
            `The actor "${this.query.name}" refused the connection${reason ? ` (${reason})` : ""}.`,
          ),
      );
    } else if (code === RECONNECT_WITH_FRESH_PARAMS) {
      // The actor asked for new credentials (e.g. the token expired): getParams() runs again
      // before the next attempt, which starts at once. If the new params are refused, the 4001
      // that follows ends the connection with the hook's error.
      // A server that keeps asking at once gets the usual backoff instead of a tight loop.
      const now = Date.now();
      const immediate = now - this.lastFreshParamsRequest > 5000;
      this.lastFreshParamsRequest = now;
      this.retry(attempt, why, immediate ? 0 : undefined);
    } else if (code === 4000 || code === 4002) {
      // The actor closed this connection on purpose (`conn.disconnect()`, 4000) or was destroyed
      // (4002): do not come back. Plain 1000/1001 (proxies, restarts) are retried below.
      // Reported through onError too, so that an app learns why (an app's reason such as
      // "session_revoked" sends its person to sign in again).
      const error = new ActorError(
        "connection_closed",
        `The actor "${this.query.name}" closed the connection${reason ? `: ${reason}` : ""}.`,
        { code, reason },
      );
      this.end(error);
      this.reportError(error);
    } else {
      const errorCode = CLOSE_CODE_ERRORS[code];
      if (errorCode && !attempt.reported.has(errorCode)) {
        this.reportError(
          new ActorError(errorCode, `The server closed the connection: ${why}.`, { code, reason }),
        );
      }
      this.retry(attempt, why);
    }
  }

  private onMessage(attempt: Attempt, data: unknown): void {
    if (typeof data !== "string") {
      this.reportError(invalidResponse("The server sent a binary frame; frames are JSON text."));
      return;
    }
    let msg: any;
    try {
      msg = JSON.parse(data);
    } catch {
      this.reportError(
        invalidResponse(`The server sent a frame that is not JSON: ${data.slice(0, 200)}`),
      );
      return;
    }
    if (!msg || typeof msg !== "object" || Array.isArray(msg)) {
      this.reportError(
        invalidResponse(`The server sent a frame that is not an object: ${data.slice(0, 200)}`),
      );
      return;
    }
    switch (msg.t) {
      case "welcome":
        if (attempt.welcomed || typeof msg.connId !== "string") break;
        if (!this.explicitMaxMessageSize && typeof msg.maxMessageSize === "number") {
          this.maxMessageSize = msg.maxMessageSize; // the server's own limit
        }
        this.onWelcome(attempt, msg.connId);
        return;
      case "result":
        if (typeof msg.id !== "number") break;
        this.settle(msg.id, (call) => call.resolve(msg.output));
        return;
      case "error": {
        const error = wireError(msg.error);
        if (typeof msg.id === "number") {
          this.settle(msg.id, (call) =>
            call.reject(
              error ??
                invalidResponse(`The server answered "${call.name}" with a malformed error.`),
            ),
          );
          return;
        }
        if (!error) break;
        if (!attempt.welcomed) {
          // The answer to `init`: the 4001 close follows. actor_stopping, internal_error and
          // storage_error are transient (retried when the close arrives); anything else refuses
          // for good.
          attempt.rejection = error;
          if (!TRANSIENT_REFUSALS.has(error.code)) this.reject(error);
          return;
        }
        attempt.reported.add(error.code);
        this.reportError(error);
        return;
      }
      case "event":
        if (typeof msg.name !== "string" || !Array.isArray(msg.args)) break;
        this.dispatch(msg.name, msg.args);
        return;
    }
    this.reportError(invalidResponse(`The server sent an unexpected frame: ${data.slice(0, 200)}`));
  }

  private onWelcome(attempt: Attempt, connId: string): void {
    attempt.welcomed = true;
    if (attempt.connectTimer !== undefined) clearTimeout(attempt.connectTimer);
    this.connId = connId;
    this.failures = 0;
    this.outageReported = false;
    this.lastFailure = undefined;
    // Subscriptions first, so events caused by the queued calls reach their listeners: names
    // listened to since `init` went out, and off for names whose listeners left meanwhile.
    const initSubs = attempt.initSubs ?? new Set<string>();
    for (const name of this.listeners.keys()) {
      if (!initSubs.has(name)) this.sendRaw({ t: "sub", event: name });
    }
    for (const name of initSubs) {
      if (!this.listeners.has(name)) this.sendRaw({ t: "unsub", event: name });
    }
    for (const call of this.queue.splice(0)) {
      if (call.timer !== undefined) clearTimeout(call.timer);
      this.sendCall(call);
    }
    this.setStatus("connected");
    if (this.current === attempt) this.emit(this.openCbs);
  }

  // ---- calls ---------------------------------------------------------------------------------

  private sendCall(call: Call): void {
    const socket = this.current?.socket;
    this.inFlight.set(call.id, call);
    try {
      socket!.send(call.text);
    } catch (err) {
      this.inFlight.delete(call.id);
      call.reject(
        new ActorError(
          "connection_lost",
          `Could not send "${call.name}" to actor "${this.query.name}": ${describe(err)}`,
          undefined,
          { cause: err },
        ),
      );
    }
  }

  private settle(id: number, fn: (call: Call) => void): void {
    const call = this.inFlight.get(id);
    if (!call) {
      console.warn(
        `[troupe] connection to "${this.query.name}": reply for unknown call id ${id}, ignored.`,
      );
      return;
    }
    this.inFlight.delete(id);
    fn(call);
  }

  private failInFlight(code: number, reason: string): void {
    for (const call of this.inFlight.values()) {
      call.reject(
        new ActorError(
          "connection_lost",
          `The connection to actor "${this.query.name}" closed (${code}${reason ? ` ${reason}` : ""}) while "${call.name}" was running; it may or may not have run.`,
          { code, reason },
        ),
      );
    }
    this.inFlight.clear();
  }

  private unavailable(why: string, name: string): ActorError {
    const last = this.lastFailure ? ` Last problem: ${this.lastFailure}.` : "";
    return new ActorError(
      "connection_unavailable",
      `"${name}" was not sent: the connection to actor "${this.query.name}" is not open and ${why}.${last}`,
    );
  }

  // ---- ending --------------------------------------------------------------------------------

  /** The server refused the connection: final, reported via onError, calls fail with its error. */
  private reject(error: ActorError): void {
    if (this.finalError) return;
    const socket = this.current?.socket;
    this.end(error);
    // The server's 4001 close should follow at once (and reaches onClose); if it does not, close.
    if (socket && socket.readyState !== CLOSED) {
      const safety = timer(() => closeQuietly(socket), 1000, true);
      socket.addEventListener("close", () => clearTimeout(safety));
    }
    this.reportError(error);
  }

  /** Ends the connection for good: no reconnect, status `disconnected`, pending calls rejected. */
  private end(error: ActorError): void {
    if (this.finalError) return;
    this.finalError = error;
    wakeSignals(this.retryNow, false);
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const attempt = this.current;
    if (attempt?.connectTimer !== undefined) clearTimeout(attempt.connectTimer);
    this.current = undefined;
    this.connId = undefined;
    for (const call of this.queue.splice(0)) {
      if (call.timer !== undefined) clearTimeout(call.timer);
      call.reject(error);
    }
    for (const call of this.inFlight.values()) call.reject(error);
    this.inFlight.clear();
    this.setStatus("disconnected");
  }

  // ---- events and callbacks ------------------------------------------------------------------

  private dispatch(name: string, args: unknown[]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const entry of [...set]) {
      if (entry.once) this.removeListener(name, entry);
      try {
        const out: unknown = entry.cb(...args);
        if (out && typeof (out as Promise<unknown>).then === "function") {
          (out as Promise<unknown>).then(undefined, (err) => listenerFailed(`"${name}"`, err));
        }
      } catch (err) {
        listenerFailed(`"${name}"`, err);
      }
    }
  }

  private removeListener(name: string, entry: { cb: Listener; once: boolean }): void {
    const set = this.listeners.get(name);
    if (!set?.delete(entry) || set.size > 0) return;
    this.listeners.delete(name);
    if (this.status === "connected") this.sendRaw({ t: "unsub", event: name });
  }

  private sendRaw(msg: unknown): void {
    const socket = this.current?.socket;
    if (!socket || socket.readyState !== OPEN) return; // re-sent at the next welcome
    try {
      socket.send(JSON.stringify(msg));
    } catch {
      // The socket is going away; its close event triggers the reconnect that re-subscribes.
    }
  }

  private setStatus(status: ConnStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.emit(this.statusCbs, status);
  }

  private reportError(error: ActorError): void {
    if (this.errorCbs.size === 0) {
      console.warn(`[troupe] connection to "${this.query.name}": ${error.code}: ${error.message}`);
    }
    this.emit(this.errorCbs, error);
  }

  private addCallback<T>(set: Set<T>, cb: T): () => void {
    if (typeof cb !== "function") throw new TypeError("Expected a callback function.");
    set.add(cb);
    return () => {
      set.delete(cb);
    };
  }

  private emit<A extends unknown[]>(set: Set<(...args: A) => void>, ...args: A): void {
    for (const cb of [...set]) {
      try {
        cb(...args);
      } catch (err) {
        listenerFailed("a connection callback", err);
      }
    }
  }
}

function invalidResponse(message: string): ActorError {
  return new ActorError("invalid_response", message);
}

function listenerFailed(what: string, err: unknown): void {
  console.error(`[troupe] a listener for ${what} threw:`, err);
}

function closeQuietly(socket: WebSocketLike): void {
  try {
    socket.close(1000, "closed by client");
  } catch {
    // already closing
  }
}

/**
 * Opens a live connection to the actor `query` names; see the module comment. The returned object
 * has every connection method, and any other property is an action of the actor.
 */
export function createActorConnection(
  transport: Transport,
  query: WireQuery,
  opts: ConnectionOptions = {},
): ActorConn<any> {
  const conn = new Connection(transport, query, opts);
  // `conn.notify.<action>(...args)`: every name is an action, as on the connection itself.
  const notify = new Proxy(
    {},
    {
      get(_target, prop) {
        if (typeof prop !== "string" || prop === "then") return undefined;
        return (...args: unknown[]) => conn.notify(prop, args);
      },
    },
  );
  const methods: Record<string, unknown> = {
    on: (name: string, cb: Listener) => conn.on(name, cb, false),
    once: (name: string, cb: Listener) => conn.on(name, cb, true),
    onOpen: (cb: () => void) => conn.onOpen(cb),
    onClose: (cb: (event: { code: number; reason: string }) => void) => conn.onClose(cb),
    onError: (cb: (error: ActorErrorLike) => void) => conn.onError(cb),
    onStatusChange: (cb: (status: ConnStatus) => void) => conn.onStatusChange(cb),
    action: (o: { name: string; args?: unknown[] }) => conn.call(o?.name, o?.args ?? []),
    notify,
    dispose: () => conn.dispose(),
  };
  return new Proxy(methods, {
    get(target, prop) {
      if (typeof prop !== "string" || prop === "then") return undefined;
      if (prop === "status") return conn.status;
      if (prop === "connId") return conn.connId;
      if (CONN_METHODS.has(prop)) return target[prop];
      return (...args: unknown[]) => conn.call(prop, args);
    },
  }) as ActorConn<any>;
}

/** Subscribes (or unsubscribes) `listener` to the browser's "online" and "tab visible again" events. */
function wakeSignals(listener: () => void, on: boolean): void {
  const g = globalThis as {
    addEventListener?: Window["addEventListener"];
    removeEventListener?: Window["removeEventListener"];
    document?: Document;
  };
  if (typeof g.addEventListener !== "function") return;
  const method = on ? "addEventListener" : "removeEventListener";
  g[method]?.("online", listener);
  g.document?.[method]("visibilitychange", listener);
}
