/**
 * `troupe/accounts/client`: the browser side of `troupe/accounts`. No Node imports: a web app
 * bundles it with its frontend.
 *
 * The account routes as functions (`signIn`, `createOrganisation`, `joinOrganisation`,
 * `previewInvite`, `refreshToken`, `signOutSession`, `currentInvite`, `renewInvite`), whose
 * errors are `ActorError`s with the server's code, the same class the actor client throws
 * (a failed fetch is `network_error`); `requestJson` for an app's own routes in the same style.
 *
 * The signed-in session, `{ token, user, role }`, kept in localStorage under the app's
 * `storageKey` so every tab of the browser shares it (a sign-in or sign-out in one tab reaches
 * the others through the `storage` event).
 *
 * Tokens are short-lived. `freshToken()` is what connections call before every attempt (their
 * `getParams`): it decodes the token's `exp` (no secret needed to read it) and, when the token
 * has expired or expires within a minute, trades it for a new one at `POST /api/auth/refresh`
 * first. One refresh at a time: concurrent callers share it. A token the server refuses outright
 * (forged, expired beyond the refresh grace, a revoked session, a removed member) ends the
 * session, with the reason kept so the sign-in screen can explain it.
 *
 * @example
 * const store = new SessionStore({ storageKey: "my-app:session", storage: localStorage, refresh: refreshToken });
 * window.addEventListener("storage", (e) => store.onStorage(e.key));
 * useActor({ name: "notes", key, getParams: async () => ({ token: await store.freshToken() }) });
 */
import { ActorError } from "../client/errors.js";
import type { Invite, Role } from "./accounts.js";
import type { User } from "./auth.js";

export type { Invite, Role, User };

/** What sign-in, joining and refresh answer, and what the browser keeps. */
export interface Session {
  token: string;
  user: User;
  /** Absent in sessions stored by older versions; `/api/me` tells. */
  role?: Role;
}

export interface InvitePreview {
  org: { slug: string; name: string };
  expiresAt: number;
}

export interface NewAccount {
  displayName: string;
  login: string;
  password: string;
}

// ---- the account routes -----------------------------------------------------------------------

/**
 * `fetch` of a JSON route; a refusal (`{ error: { code, message, metadata } }`) or a failed fetch
 * (`network_error`) is thrown as an `ActorError`.
 */
export async function requestJson<T>(path: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ActorError("network_error", `Could not reach ${path}.`, undefined, { cause: err });
  }
  const body = (await res.json().catch(() => null)) as
    | (T & { error?: { code?: string; message?: string; metadata?: unknown } })
    | null;
  if (!res.ok || !body || body.error) {
    const e = body?.error;
    throw new ActorError(
      typeof e?.code === "string"
        ? e.code
        : res.status >= 500
          ? "internal_error"
          : "invalid_response",
      e?.message ?? `HTTP ${res.status} from ${path}`,
      e?.metadata,
    );
  }
  return body;
}

/** `POST` of a JSON body, with the token as `Authorization: Bearer` if given. */
export function postJson<T>(path: string, body: unknown, token?: string): Promise<T> {
  return requestJson<T>(path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

export function signIn(org: string, login: string, password: string): Promise<Session> {
  return postJson<Session>("/api/auth/sign-in", { org, login, password });
}

export function createOrganisation(
  body: NewAccount & { orgName: string },
): Promise<Session & { invite: Invite }> {
  return postJson("/api/auth/organisations", body);
}

export function joinOrganisation(body: NewAccount & { code: string }): Promise<Session> {
  return postJson("/api/auth/join", body);
}

export function previewInvite(code: string): Promise<InvitePreview> {
  return requestJson(`/api/auth/invites/${encodeURIComponent(code)}`);
}

/** Ends this session on the server (or all of the account's with `everywhere`). */
export function signOutSession(token: string, everywhere = false): Promise<{ revoked: number }> {
  return postJson("/api/auth/sign-out", { everywhere }, token);
}

export function currentInvite(token: string): Promise<{ invite: Invite | null }> {
  return requestJson("/api/org/invite", { headers: { authorization: `Bearer ${token}` } });
}

export function renewInvite(token: string): Promise<{ invite: Invite }> {
  return postJson("/api/org/invite", {}, token);
}

export function refreshToken(token: string): Promise<Session> {
  return requestJson<Session>("/api/auth/refresh", {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
}

// ---- the session in the browser ---------------------------------------------------------------

/** A token this close to its expiry is refreshed before use. */
export const REFRESH_MARGIN_MS = 60_000;

/** Codes after which the stored session is useless: the person must sign in again. */
export const SESSION_INVALID_CODES: ReadonlySet<string> = new Set([
  "invalid_token",
  "auth_required",
  "session_revoked",
  "session_expired",
  "account_removed",
]);

/** Why a session ended without the person signing out: for the sign-in screen to say. */
export type SessionProblem = "invalid" | "expired" | "revoked" | "removed";

/** The code of an error, if it has one. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The problem a refused refresh means, if it ends the session. */
export function problemOf(code: string | undefined): SessionProblem | undefined {
  if (code === "token_expired" || code === "session_expired") return "expired";
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
  /** The storage key of the session (one per app, e.g. `"my-app:session"`). */
  storageKey: string;
  storage: StorageLike;
  refresh: (token: string) => Promise<Session>;
  now?: () => number;
}

export class SessionStore {
  private snapshot: SessionSnapshot;
  private readonly listeners = new Set<() => void>();
  private refreshing: Promise<string> | undefined;
  private readonly storageKey: string;
  private readonly storage: StorageLike;
  private readonly refresh: (token: string) => Promise<Session>;
  private readonly now: () => number;

  constructor(opts: SessionStoreOptions) {
    this.storageKey = opts.storageKey;
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
    this.storage.removeItem(this.storageKey);
    this.set({ session: null, problem: null });
  }

  /**
   * Ends the session because the server refused it; the sign-in screen says why. Without a
   * session there is nothing to explain: after "Sign out" the server also closes the session's
   * connections, and that must not show "You were signed out" as if it happened elsewhere.
   */
  end(problem: SessionProblem): void {
    if (this.snapshot.session === null && this.read() === null) return;
    this.storage.removeItem(this.storageKey);
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
    if (key !== null && key !== this.storageKey) return;
    const session = this.read();
    const current = this.snapshot.session;
    if (session?.token === current?.token && session?.user.id === current?.user.id) return;
    this.set({ session, problem: null });
  }

  private read(): Session | null {
    try {
      return parseSession(this.storage.getItem(this.storageKey));
    } catch {
      return null; // storage disabled (private mode, say)
    }
  }

  private write(session: Session): void {
    try {
      this.storage.setItem(this.storageKey, JSON.stringify(session));
    } catch {
      // storage full or disabled: the session lives in memory for this tab only
    }
  }

  private set(snapshot: SessionSnapshot): void {
    this.snapshot = snapshot;
    for (const l of this.listeners) l();
  }
}
