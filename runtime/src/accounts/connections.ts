/**
 * Connections end when their token does. Each signed-in connection gets a timer at its token's
 * `exp`; when it fires, the connection is closed with the runtime's reconnect close (4003), so
 * the client asks `getParams()` for fresh params and comes straight back with a refreshed token.
 * A person whose session was revoked (signed out, removed by an admin) cannot refresh: their
 * client's new attempt is refused and the connection stops there. Without this, a connection
 * opened with a token would outlive it indefinitely.
 *
 * Connections also end with their session: each one is handed to the app's
 * `SessionRevocations`, which closes it (close 4000, reason `session_revoked` or
 * `account_removed`: the client does not come back) the moment the person signs out or is
 * removed.
 *
 * A connection is watched when its state carries the verified token's `sessionId` and
 * `expiresAt` (ms), as `auth.verifyClaims()` gives them; any other (an in-process caller, say)
 * is left alone. Timers live in the actor's `vars` (one per connection, keyed by connection id)
 * and are cleared when the connection closes or the actor sleeps.
 *
 * @example
 * createVars: () => ({ tokenTimers: new Map() as TokenTimers }),
 * createConnState: async (c, params) => {
 *   const { user, sessionId, expiresAt } = await auth.verifyClaims(params?.token);
 *   return { user, sessionId, expiresAt };
 * },
 * onConnect: (c, conn) => watchConnection(c.vars.tokenTimers, auth.revocations, conn),
 * onDisconnect: (c, conn) => unwatchConnection(c.vars.tokenTimers, auth.revocations, conn),
 * onSleep: (c) => clearAllTokenExpiries(c.vars.tokenTimers),
 */
import type { SessionRevocations } from "./revocations.js";

export type TokenTimers = Map<string, ReturnType<typeof setTimeout>>;

/** setTimeout fires at once for delays beyond 2^31 - 1 ms: re-arm in steps instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a watched connection offers: an id, its state, and a way to close it. */
export interface WatchedConn {
  id: string;
  state: unknown;
  disconnect(reason?: string, opts?: { reconnect?: boolean }): Promise<void>;
}

/** The session and token expiry a connection's state carries, if it is a signed-in one. */
export function tokenSessionOf(
  state: unknown,
): { sessionId: string; expiresAt: number } | undefined {
  if (typeof state !== "object" || state === null) return undefined;
  const { sessionId, expiresAt } = state as { sessionId?: unknown; expiresAt?: unknown };
  if (typeof sessionId !== "string" || typeof expiresAt !== "number") return undefined;
  return { sessionId, expiresAt };
}

export function armTokenExpiry(timers: TokenTimers, conn: WatchedConn, now = Date.now()): void {
  const session = tokenSessionOf(conn.state);
  if (!session) return;
  clearTokenExpiry(timers, conn.id);
  const delay = session.expiresAt - now;
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

/** Closes the connection when its session is revoked (a no-op for other connections). */
export function followSession(
  revocations: SessionRevocations | undefined,
  conn: WatchedConn,
): void {
  const session = tokenSessionOf(conn.state);
  if (!session || !revocations) return;
  revocations.track(session.sessionId, conn.id, (reason) => {
    void conn.disconnect(reason).catch(() => {});
  });
}

export function unfollowSession(
  revocations: SessionRevocations | undefined,
  conn: Pick<WatchedConn, "id" | "state">,
): void {
  const session = tokenSessionOf(conn.state);
  if (!session || !revocations) return;
  revocations.untrack(session.sessionId, conn.id);
}

/**
 * What an actor does when a connection opens: close it when its token expires (4003, come back
 * with a fresh one) or when its session is revoked.
 */
export function watchConnection(
  timers: TokenTimers,
  revocations: SessionRevocations | undefined,
  conn: WatchedConn,
): void {
  armTokenExpiry(timers, conn);
  followSession(revocations, conn);
}

/** The other half of watchConnection, when the connection closes. */
export function unwatchConnection(
  timers: TokenTimers,
  revocations: SessionRevocations | undefined,
  conn: Pick<WatchedConn, "id" | "state">,
): void {
  clearTokenExpiry(timers, conn.id);
  unfollowSession(revocations, conn);
}
