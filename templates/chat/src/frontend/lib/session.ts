/**
 * The signed-in session, `{ token, user }`, kept in localStorage under `troupe-chat:session` so
 * every tab of the browser shares it (a sign-in or sign-out in one tab reaches the others through
 * the `storage` event).
 *
 * Tokens are short-lived. `freshToken()` is what connections call before every attempt (their
 * `getParams`): it decodes the token's `exp` (no secret needed to read it) and, when the token
 * has expired or expires within a minute, trades it for a new one at `POST /api/auth/refresh`
 * first. One refresh at a time: concurrent callers share it. A token the server refuses outright
 * (forged, expired beyond the refresh grace, a revoked session, a removed member) ends the
 * session, with the reason kept so the sign-in screen can explain it.
 *
 * @example
 * const store = new SessionStore({ storage: localStorage, refresh: refreshToken });
 * useActor({ name: "chatRoom", key, getParams: async () => ({ token: await store.freshToken() }) });
 */
import { ActorError } from "troupe/client";
import type { Session } from "./api.js";
import { errorCode, SESSION_INVALID_CODES } from "./errors.js";

export const SESSION_KEY = "troupe-chat:session";
/** A token this close to its expiry is refreshed before use. */
export const REFRESH_MARGIN_MS = 60_000;

/** Why a session ended without the person signing out: shown on the sign-in screen. */
export type SessionProblem = "invalid" | "expired" | "revoked" | "removed";

export const PROBLEM_SENTENCES: Record<SessionProblem, string> = {
  invalid: "Your session is not valid any more. Please sign in again.",
  expired: "Your session expired. Please sign in again.",
  revoked: "You were signed out (this session was ended). Please sign in again.",
  removed: "You were removed from this organisation. Ask an admin if this is a mistake.",
};

/** The problem a refused refresh means, if it ends the session. */
export function problemOf(code: string | undefined): SessionProblem | undefined {
  if (code === "token_expired") return "expired";
  if (code === "session_revoked") return "revoked";
  if (code === "account_removed") return "removed";
  if (code && SESSION_INVALID_CODES.has(code)) return "invalid";
  return undefined;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The token's `exp` in ms since the epoch; undefined if it cannot be read. */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const json = new TextDecoder().decode(Uint8Array.from(atob(padded), (ch) => ch.charCodeAt(0)));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Whether to refresh before use: expired, expiring within `marginMs`, or unreadable. */
export function needsRefresh(token: string, now: number, marginMs = REFRESH_MARGIN_MS): boolean {
  const exp = tokenExpiry(token);
  return exp === undefined || exp - now <= marginMs;
}

/** A stored session, or null if absent or malformed. */
export function parseSession(raw: string | null): Session | null {
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Partial<Session> | null;
    const u = s?.user;
    if (
      typeof s?.token === "string" &&
      u &&
      typeof u.id === "string" &&
      typeof u.name === "string" &&
      typeof u.org === "string"
    ) {
      const role = s.role === "admin" || s.role === "member" ? s.role : undefined;
      return {
        token: s.token,
        user: { id: u.id, name: u.name, org: u.org },
        ...(role ? { role } : {}),
      };
    }
  } catch {
    // fall through: treated as no session
  }
  return null;
}

export interface SessionSnapshot {
  session: Session | null;
  /** Set when the session ended by itself (refused token); cleared by the next sign-in. */
  problem: SessionProblem | null;
}

export interface SessionStoreOptions {
  storage: StorageLike;
  refresh: (token: string) => Promise<Session>;
  now?: () => number;
}

export class SessionStore {
  private snapshot: SessionSnapshot;
  private readonly listeners = new Set<() => void>();
  private refreshing: Promise<string> | undefined;
  private readonly storage: StorageLike;
  private readonly refresh: (token: string) => Promise<Session>;
  private readonly now: () => number;

  constructor(opts: SessionStoreOptions) {
    this.storage = opts.storage;
    this.refresh = opts.refresh;
    this.now = opts.now ?? Date.now;
    this.snapshot = { session: this.read(), problem: null };
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): SessionSnapshot => this.snapshot;

  get session(): Session | null {
    return this.snapshot.session;
  }

  signIn(session: Session): void {
    this.write(session);
    this.set({ session, problem: null });
  }

  signOut(): void {
    this.storage.removeItem(SESSION_KEY);
    this.set({ session: null, problem: null });
  }

  /** Ends the session because the server refused it; the sign-in screen says why. */
  end(problem: SessionProblem): void {
    this.storage.removeItem(SESSION_KEY);
    this.set({ session: null, problem });
  }

  /**
   * A token good for at least another minute, refreshed first if needed. Rejects with
   * `auth_required` without a session; a refusal of the refresh ends the session.
   */
  freshToken(): Promise<string> {
    // Another tab may have refreshed or replaced the session: storage is the truth.
    const session = this.read();
    if (!session) {
      return Promise.reject(new ActorError("auth_required", "Sign in first."));
    }
    if (!needsRefresh(session.token, this.now())) return Promise.resolve(session.token);
    return this.refreshNow(session.token);
  }

  /** Trades the current token for a new one now (after a `token_expired` refusal, say). */
  refreshNow(token = this.read()?.token): Promise<string> {
    if (!token) return Promise.reject(new ActorError("auth_required", "Sign in first."));
    this.refreshing ??= this.refresh(token)
      .then((fresh) => {
        // Signed out (or in as someone else) meanwhile: do not resurrect the old session.
        if (this.read()?.token === token) {
          this.write(fresh);
          this.set({ session: fresh, problem: null });
        }
        return fresh.token;
      })
      .catch((err: unknown) => {
        const problem = problemOf(errorCode(err));
        if (problem) this.end(problem);
        throw err;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /** Call from `window`'s `storage` event: follows sign-ins, refreshes and sign-outs of other tabs. */
  onStorage(key: string | null): void {
    if (key !== null && key !== SESSION_KEY) return;
    const session = this.read();
    const current = this.snapshot.session;
    if (session?.token === current?.token && session?.user.id === current?.user.id) return;
    this.set({ session, problem: null });
  }

  private read(): Session | null {
    try {
      return parseSession(this.storage.getItem(SESSION_KEY));
    } catch {
      return null; // storage disabled (private mode, say)
    }
  }

  private write(session: Session): void {
    try {
      this.storage.setItem(SESSION_KEY, JSON.stringify(session));
    } catch {
      // storage full or disabled: the session lives in memory for this tab only
    }
  }

  private set(snapshot: SessionSnapshot): void {
    this.snapshot = snapshot;
    for (const l of this.listeners) l();
  }
}
