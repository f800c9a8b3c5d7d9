// The browser side of troupe/accounts: reading a token's expiry, the stored session, and the
// session store's refresh (once for concurrent callers, other tabs followed, refusals explained).
import { describe, expect, it, vi } from "vitest";
import { ActorError } from "../client/errors.js";
import {
  needsRefresh,
  parseSession,
  type Session,
  SessionStore,
  type StorageLike,
  tokenExpiry,
} from "./client.js";

const SESSION_KEY = "test-app:session";

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

/** An unsigned token with the given exp (seconds): the client never checks signatures. */
function token(expSeconds: number, extra: Record<string, unknown> = {}): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub: "u1", name: "Ada", org: "acme", exp: expSeconds, ...extra })}.sig`;
}

function session(t: string, id = "u1"): Session {
  return { token: t, user: { id, name: "Ada", org: "acme" } };
}

function memoryStorage(initial: Record<string, string> = {}): StorageLike & {
  data: Record<string, string>;
} {
  const data = { ...initial };
  return {
    data,
    getItem: (k) => data[k] ?? null,
    setItem: (k, v) => {
      data[k] = v;
    },
    removeItem: (k) => {
      delete data[k];
    },
  };
}

describe("tokenExpiry", () => {
  it("reads exp from the payload, in ms", () => {
    expect(tokenExpiry(token(1_800_000_000))).toBe(1_800_000_000_000);
  });

  it("reads base64url payloads with - and _ and no padding", () => {
    // "name" chosen so that the encoding contains - or _.
    const t = token(1_800_000_000, { name: "Ada ÿÿ>>>???" });
    expect(t.split(".")[1]).toMatch(/[-_]/);
    expect(tokenExpiry(t)).toBe(1_800_000_000_000);
  });

  it("is undefined for garbage and for tokens without exp", () => {
    expect(tokenExpiry("garbage")).toBeUndefined();
    expect(tokenExpiry("a.!!!.c")).toBeUndefined();
    const noExp = `x.${Buffer.from(JSON.stringify({ sub: "u" })).toString("base64url")}.y`;
    expect(tokenExpiry(noExp)).toBeUndefined();
  });
});

describe("needsRefresh", () => {
  const in_ = (seconds: number) => token(Math.floor(NOW / 1000) + seconds);

  it("keeps a token with more than a minute left", () => {
    expect(needsRefresh(in_(61), NOW)).toBe(false);
    expect(needsRefresh(in_(3600), NOW)).toBe(false);
  });

  it("refreshes within a minute of expiry, after expiry, and when unreadable", () => {
    expect(needsRefresh(in_(60), NOW)).toBe(true);
    expect(needsRefresh(in_(5), NOW)).toBe(true);
    expect(needsRefresh(in_(-10), NOW)).toBe(true);
    expect(needsRefresh("not-a-jwt", NOW)).toBe(true);
  });
});

describe("parseSession", () => {
  it("accepts a well-formed session and rejects anything else", () => {
    const s = session("t");
    expect(parseSession(JSON.stringify(s))).toEqual(s);
    expect(parseSession(null)).toBeNull();
    expect(parseSession("{")).toBeNull();
    expect(parseSession(JSON.stringify({ token: "t" }))).toBeNull();
    expect(parseSession(JSON.stringify({ token: 1, user: s.user }))).toBeNull();
  });
});

describe("SessionStore", () => {
  const fresh = token(Math.floor(NOW / 1000) + 3600);
  const expiring = token(Math.floor(NOW / 1000) + 30);

  function store(initial: Session | null, refresh = vi.fn<(t: string) => Promise<Session>>()) {
    const storage = memoryStorage(initial ? { [SESSION_KEY]: JSON.stringify(initial) } : {});
    const s = new SessionStore({ storageKey: SESSION_KEY, storage, refresh, now: () => NOW });
    return { s, storage, refresh };
  }

  it("a refusal after signing out does not explain a sign-out the person made", () => {
    const { s } = store(session(fresh));
    s.signOut();
    // The server then closes the session's connections with session_revoked.
    s.end("revoked");
    expect(s.getSnapshot()).toEqual({ session: null, problem: null });
    // With a session, the same refusal ends it with the reason.
    s.signIn(session(fresh));
    s.end("revoked");
    expect(s.getSnapshot()).toEqual({ session: null, problem: "revoked" });
  });

  it("loads the stored session and saves sign-ins under its storage key", () => {
    const { s, storage } = store(session(fresh));
    expect(s.session?.token).toBe(fresh);
    s.signIn(session(expiring, "u2"));
    expect(JSON.parse(storage.data[SESSION_KEY]!).user.id).toBe("u2");
    s.signOut();
    expect(storage.data[SESSION_KEY]).toBeUndefined();
    expect(s.getSnapshot()).toEqual({ session: null, problem: null });
  });

  it("returns a token that is still good without asking the server", async () => {
    const { s, refresh } = store(session(fresh));
    await expect(s.freshToken()).resolves.toBe(fresh);
    expect(refresh).not.toHaveBeenCalled();
  });

  it("refreshes a token about to expire, once for concurrent callers, and stores the new one", async () => {
    const { s, storage, refresh } = store(session(expiring));
    refresh.mockResolvedValue(session(fresh));
    const listener = vi.fn();
    s.subscribe(listener);
    const [a, b] = await Promise.all([s.freshToken(), s.freshToken()]);
    expect([a, b]).toEqual([fresh, fresh]);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(refresh).toHaveBeenCalledWith(expiring);
    expect(JSON.parse(storage.data[SESSION_KEY]!).token).toBe(fresh);
    expect(s.session?.token).toBe(fresh);
    expect(listener).toHaveBeenCalled();
  });

  it("uses a token another tab stored meanwhile", async () => {
    const { s, storage, refresh } = store(session(expiring));
    storage.data[SESSION_KEY] = JSON.stringify(session(fresh));
    await expect(s.freshToken()).resolves.toBe(fresh);
    expect(refresh).not.toHaveBeenCalled();
  });

  it("ends the session with a reason when the server refuses the token", async () => {
    const { s, storage, refresh } = store(session(expiring));
    refresh.mockRejectedValue(new ActorError("invalid_token", "forged"));
    await expect(s.freshToken()).rejects.toMatchObject({ code: "invalid_token" });
    expect(storage.data[SESSION_KEY]).toBeUndefined();
    expect(s.getSnapshot()).toEqual({ session: null, problem: "invalid" });
  });

  it("says why when the session was revoked or the member removed", async () => {
    for (const [code, problem] of [
      ["session_revoked", "revoked"],
      ["account_removed", "removed"],
      ["session_expired", "expired"],
    ] as const) {
      const { s, storage, refresh } = store(session(expiring));
      refresh.mockRejectedValue(new ActorError(code, "refused"));
      await expect(s.freshToken()).rejects.toMatchObject({ code });
      expect(storage.data[SESSION_KEY]).toBeUndefined();
      expect(s.getSnapshot()).toEqual({ session: null, problem });
    }
  });

  it("keeps the role the server gave, and reads sessions stored without one", () => {
    expect(parseSession(JSON.stringify({ ...session("t"), role: "admin" }))?.role).toBe("admin");
    expect(parseSession(JSON.stringify({ ...session("t"), role: "root" }))).toEqual(session("t"));
  });

  it("says 'expired' when the token is past the refresh grace", async () => {
    const { s, refresh } = store(session(expiring));
    refresh.mockRejectedValue(new ActorError("token_expired", "too old"));
    await expect(s.freshToken()).rejects.toMatchObject({ code: "token_expired" });
    expect(s.getSnapshot().problem).toBe("expired");
  });

  it("keeps the session when the refresh fails for a network problem (the caller retries)", async () => {
    const { s, storage, refresh } = store(session(expiring));
    refresh.mockRejectedValueOnce(new ActorError("network_error", "down"));
    await expect(s.freshToken()).rejects.toMatchObject({ code: "network_error" });
    expect(storage.data[SESSION_KEY]).toBeDefined();
    refresh.mockResolvedValueOnce(session(fresh));
    await expect(s.freshToken()).resolves.toBe(fresh);
  });

  it("does not bring back a session signed out during the refresh", async () => {
    const { s, storage, refresh } = store(session(expiring));
    let finish!: (v: Session) => void;
    refresh.mockReturnValue(new Promise((r) => (finish = r)));
    const pending = s.freshToken();
    s.signOut();
    finish(session(fresh));
    await pending;
    expect(storage.data[SESSION_KEY]).toBeUndefined();
    expect(s.session).toBeNull();
  });

  it("rejects with auth_required without a session", async () => {
    const { s } = store(null);
    await expect(s.freshToken()).rejects.toMatchObject({ code: "auth_required" });
  });

  it("follows other tabs through storage events", () => {
    const { s, storage } = store(session(fresh));
    const listener = vi.fn();
    s.subscribe(listener);
    delete storage.data[SESSION_KEY];
    s.onStorage(SESSION_KEY);
    expect(s.session).toBeNull();
    storage.data[SESSION_KEY] = JSON.stringify(session(fresh, "u9"));
    s.onStorage("some-other-key");
    expect(s.session).toBeNull();
    s.onStorage(null); // localStorage.clear() elsewhere
    expect(s.session?.user.id).toBe("u9");
    expect(listener).toHaveBeenCalledTimes(2);
  });
});
