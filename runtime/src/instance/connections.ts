/**
 * Connections of one actor: the `Conn` objects actions see, event delivery, and liveness.
 * An event is serialized once and the same frame goes to every recipient; `c.broadcast` reaches
 * the connections subscribed to that event name, `conn.send` one connection regardless.
 *
 * The socket behind a connection is abstract (`ServerSocket`) so the same code serves `ws`
 * sockets and in-process socket pairs (for `c.client().connect()` between actors).
 */
import type { Conn } from "../actor/context.js";
import { randomId } from "../util.js";

/** Default cap on bytes queued to a slow client before it is dropped. */
export const DEFAULT_MAX_OUTGOING_BUFFER = 8 * 1024 * 1024;

/** The server side of a connection's socket. */
export interface ServerSocket {
  /** A text frame; bytes are its UTF-8 encoding (encoded once for a broadcast). */
  send(text: string | Uint8Array): void;
  close(code: number, reason: string): void;
  /** Cuts the transport at once, without a closing handshake (for a peer that stopped answering). */
  terminate(): void;
  /** Bytes accepted by send() but not yet written to the network. */
  readonly bufferedAmount: number;
  /** Sends a liveness ping; `false` when the transport needs none (in-process). */
  ping(): boolean;
  /**
   * `false` when this transport never sends pings (a Durable Object's socket: the platform keeps
   * it alive), so the actor runs no liveness timer for it, and an idle Durable Object can hibernate.
   */
  readonly pings?: boolean;
}

export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  /** `conn.disconnect()`: the actor closed this connection on purpose; clients do not return. */
  kicked: 4000,
  /** The actor was destroyed; clients do not return. */
  destroyed: 4002,
  /** `conn.disconnect(reason, { reconnect: true })`: come back with fresh params (a new token). */
  reconnect: 4003,
  policy: 1008,
  tooBig: 1009,
  rejected: 4001,
  slowConsumer: 4008,
  /** A write of the actor failed and it was reset to its stored state; clients reconnect. */
  storageError: 1011,
} as const;

export class Connection<P = unknown, S = unknown> implements Conn<P, S> {
  readonly id: string;
  readonly subscriptions = new Set<string>();
  state: S;
  /** Set when a ping went out without an answer yet (ms timestamp). */
  pingSentAt: number | undefined;
  closed = false;

  constructor(
    readonly params: P,
    state: S,
    private readonly socket: ServerSocket | undefined,
    private readonly maxOutgoingBuffer: number,
    private readonly onDisconnectRequest: (
      conn: Connection<P, S>,
      reason: string | undefined,
      reconnect: boolean,
    ) => Promise<void>,
    /** Given when a connection is restored (after a Durable Object hibernated). */
    id: string = randomId(),
  ) {
    this.state = state;
    this.id = id;
  }

  /** Whether the liveness check pings this connection's transport. */
  get pings(): boolean {
    return this.socket !== undefined && this.socket.pings !== false;
  }

  /** True for the short-lived connections of HTTP calls, which receive nothing. */
  get ephemeral(): boolean {
    return this.socket === undefined;
  }

  send(eventName: string, ...args: unknown[]): void {
    this.sendFrame(eventFrame(eventName, args));
  }

  /** Sends an already serialized frame; drops a client whose send buffer is over the cap. */
  sendFrame(frame: string | Uint8Array): void {
    if (this.closed || !this.socket) return;
    if (this.socket.bufferedAmount > this.maxOutgoingBuffer) {
      this.close(
        CLOSE.slowConsumer,
        "send_buffer_full: the client reads too slowly; reconnect to resume",
      );
      return;
    }
    this.socket.send(frame);
  }

  disconnect(reason?: string, opts?: { reconnect?: boolean }): Promise<void> {
    return this.onDisconnectRequest(this, reason, opts?.reconnect === true);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    // Close reasons are limited to 123 bytes by the WebSocket protocol.
    this.socket?.close(code, truncateReason(reason));
  }

  /**
   * Cuts a peer that stopped answering: a close frame would wait (30 s in `ws`) for an answer that
   * never comes, holding the socket and its buffers.
   */
  terminate(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket?.terminate();
  }

  ping(now: number): boolean {
    if (!this.socket?.ping()) return false;
    this.pingSentAt ??= now;
    return true;
  }

  pong(): void {
    this.pingSentAt = undefined;
  }
}

export function eventFrame(name: string, args: unknown[]): string {
  return JSON.stringify({ t: "event", name, args });
}

function truncateReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.byteLength <= 123) return reason;
  return new TextDecoder().decode(bytes.slice(0, 120)).replace(/\uFFFD$/, "");
}
