/**
 * Connections end when their token does. Each user connection gets a timer at its token's
 * `exp`; when it fires, the connection is closed with the runtime's reconnect close (4003), so
 * the client asks `getParams()` for fresh params and comes straight back with a refreshed token.
 * A person whose session was revoked (signed out, removed by an admin) cannot refresh: their
 * client's new attempt is refused and the connection stops there. Without this, a connection
 * opened with a token would outlive it indefinitely.
 *
 * Timers live in the actor's `vars` (one per connection, keyed by connection id) and are cleared
 * when the connection closes or the actor sleeps.
 *
 * @example
 * onConnect: (c, conn) => armTokenExpiry(c.vars.tokenTimers, conn),
 * onDisconnect: (c, conn) => clearTokenExpiry(c.vars.tokenTimers, conn.id),
 * onSleep: (c) => clearAllTokenExpiries(c.vars.tokenTimers),
 */
import type { ChatConnState } from "./services.js";

export type TokenTimers = Map<string, ReturnType<typeof setTimeout>>;

/** setTimeout fires at once for delays beyond 2^31 - 1 ms: re-arm in steps instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface ExpiringConn {
  id: string;
  state: ChatConnState;
  disconnect(reason?: string, opts?: { reconnect?: boolean }): Promise<void>;
}

export function armTokenExpiry(timers: TokenTimers, conn: ExpiringConn, now = Date.now()): void {
  if (conn.state.kind !== "user") return;
  clearTokenExpiry(timers, conn.id);
  const delay = conn.state.expiresAt - now;
  if (delay > MAX_TIMER_MS) {
    timers.set(
      conn.id,
      setTimeout(() => armTokenExpiry(timers, conn), MAX_TIMER_MS),
    );
    return;
  }
  timers.set(
    conn.id,
    setTimeout(
      () => {
        timers.delete(conn.id);
        void conn.disconnect("token_expired", { reconnect: true }).catch(() => {});
      },
      Math.max(0, delay),
    ),
  );
}

export function clearTokenExpiry(timers: TokenTimers, connId: string): void {
  const timer = timers.get(connId);
  if (timer === undefined) return;
  clearTimeout(timer);
  timers.delete(connId);
}

export function clearAllTokenExpiries(timers: TokenTimers): void {
  for (const timer of timers.values()) clearTimeout(timer);
  timers.clear();
}
