/**
 * Revoked sessions, checked on every token verification without a database round trip, and the
 * open connections of each session, closed the moment it is revoked.
 *
 * Signing out, signing out everywhere and an admin removing a member write `sessions.revoked_at`
 * in SQL (the truth) and then tell this object, which refuses the session's tokens from then on
 * (every HTTP route, every new actor connection, refresh) and closes its open connections with
 * `session_revoked` or `account_removed` as the close reason (close code 4000: the client does not
 * reconnect; the web app shows the sign-in screen). At start the server loads the sessions revoked
 * while their tokens could still be valid, so a restart forgets nothing.
 *
 * One process: this is an in-memory copy of SQL, right for the single replica a template runs as
 * today. With several replicas, a revocation made on one would reach the others only at their
 * next restart (their refresh still reads SQL, so at the latest when the token expires): they
 * would need a shared channel (Postgres LISTEN/NOTIFY, say) to hear of it at once.
 *
 * Memory stays bounded: an entry is dropped once its session has passed its absolute lifetime,
 * since no token of the session can be valid after that (tokens never outlive their session).
 *
 * @example
 * const revocations = new SessionRevocations();
 * await revocations.load(db);                       // at start
 * const untrack = revocations.track(sessionId, conn.id, (reason) => conn.disconnect(reason));
 * revocations.revoke([{ id: sessionId, createdAt }], "session_revoked");
 */
import { and, gt, isNotNull, sql } from "drizzle-orm";
import type { AccountsDb } from "./db.js";
import { accounts, sessions } from "./schema.js";

/** Why a session's tokens are refused: also the error code and the connections' close reason. */
export type RevocationReason = "session_revoked" | "account_removed";

/** How a tracked connection is closed. */
export type CloseConnection = (reason: RevocationReason) => void;

export class SessionRevocations {
  /** Revoked session id -> why, and when the entry can be forgotten (ms since the epoch). */
  private readonly revoked = new Map<string, { reason: RevocationReason; forgetAt: number }>();
  /** Session id -> its open connections, by connection id. */
  private readonly open = new Map<string, Map<string, CloseConnection>>();
  private nextPrune = 0;

  /** @param sessionLifetimeMs a session's absolute lifetime: how long to remember a revocation. */
  constructor(private readonly sessionLifetimeMs: number) {}

  /** Why the session's tokens are refused, or undefined if they are not. */
  reasonFor(sessionId: string): RevocationReason | undefined {
    return this.revoked.get(sessionId)?.reason;
  }

  /**
   * Marks sessions revoked (after SQL says so) and closes their open connections. An account
   * removal wins over a sign-out: it is the reason a person should read.
   */
  revoke(list: { id: string; createdAt: Date }[], reason: RevocationReason): void {
    const now = Date.now();
    for (const { id, createdAt } of list) {
      const forgetAt = createdAt.getTime() + this.sessionLifetimeMs;
      if (forgetAt <= now) continue;
      const known = this.revoked.get(id);
      if (known?.reason !== "account_removed") this.revoked.set(id, { reason, forgetAt });
      const conns = this.open.get(id);
      if (!conns) continue;
      this.open.delete(id);
      for (const close of conns.values()) {
        try {
          close(reason);
        } catch {
          // a connection that is already gone: nothing to close
        }
      }
    }
    if (now >= this.nextPrune) this.prune(now);
  }

  /** Follows an open connection of a session; call the returned function when it closes. */
  track(sessionId: string, connId: string, close: CloseConnection): () => void {
    let conns = this.open.get(sessionId);
    if (!conns) this.open.set(sessionId, (conns = new Map()));
    conns.set(connId, close);
    return () => this.untrack(sessionId, connId);
  }

  untrack(sessionId: string, connId: string): void {
    const conns = this.open.get(sessionId);
    if (!conns) return;
    conns.delete(connId);
    if (conns.size === 0) this.open.delete(sessionId);
  }

  /** Open connections followed (for tests and metrics). */
  get openConnections(): number {
    let n = 0;
    for (const conns of this.open.values()) n += conns.size;
    return n;
  }

  /** Reads from SQL the revoked sessions whose tokens could still be valid. */
  async load(db: AccountsDb): Promise<void> {
    const rows = await db
      .select({ id: sessions.id, createdAt: sessions.createdAt, removedAt: accounts.removedAt })
      .from(sessions)
      .innerJoin(accounts, sql`${accounts.id} = ${sessions.accountId}`)
      .where(
        and(
          isNotNull(sessions.revokedAt),
          gt(sessions.createdAt, new Date(Date.now() - this.sessionLifetimeMs)),
        ),
      );
    for (const row of rows) {
      this.revoke([row], row.removedAt ? "account_removed" : "session_revoked");
    }
  }

  private prune(now: number): void {
    for (const [id, entry] of this.revoked) {
      if (entry.forgetAt <= now) this.revoked.delete(id);
    }
    this.nextPrune = now + 60_000;
  }
}
