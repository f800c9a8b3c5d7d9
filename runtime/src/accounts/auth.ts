/**
 * Tokens: signing and verification (HS256, `jose`). The secret comes from the app, usually
 * `resolveAuthSecret` of `troupe/secret`.
 *
 * A token is issued by the account routes (`routes.ts`) after a password check: it carries
 * the account id (`sub`), the display name, the organisation slug, the session id (`sid`, so
 * that refresh can tell a revoked session) and a required expiry (`exp`). A token without
 * `exp` is refused, whoever signed it: a token that never expires could never be taken back.
 *
 * Identity only ever comes from a verified token: actors read it in `createConnState`, HTTP
 * routes from `Authorization: Bearer`. Verification is local (signature, claims, and the
 * in-memory list of revoked sessions, `SessionRevocations`; no database round trip), so actors
 * keep working while the database is away, and a signed-out session's tokens are refused at
 * once. Failures are `Unauthorized` (HTTP 401) with distinct codes so the UI can explain them:
 * `auth_required` (no token), `token_expired`, `invalid_token` (forged, garbled, wrong
 * algorithm, missing or malformed claims), `session_revoked` and `account_removed`.
 */
import { randomUUID } from "node:crypto";
import type { Context } from "hono";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { Unauthorized } from "../actor/errors.js";
import type { SessionRevocations } from "./revocations.js";

/**
 * Default lifetime of a token. Short, because it bounds how long a removed member or a revoked
 * session keeps access: open connections are closed at expiry and must refresh to come back.
 */
export const TOKEN_TTL_SECONDS = 15 * 60;
const ALGORITHM = "HS256";

export const orgSlug = z
  .string()
  .trim()
  .regex(/^[a-z0-9-]{2,40}$/, "An organisation is 2 to 40 characters: a-z, 0-9 and '-'.");

export interface User {
  id: string;
  name: string;
  org: string;
}

/** What a verified token says. */
export interface TokenClaims {
  user: User;
  /** The sign-in session the token belongs to. */
  sessionId: string;
  /** When the token expires, in ms since the epoch. */
  expiresAt: number;
}

const claims = z.object({
  sub: z.string().min(1).max(100),
  name: z.string().min(1).max(40),
  org: orgSlug,
  sid: z.string().min(1).max(100),
  exp: z.number().int(),
});

export interface AuthOptions {
  /** The HS256 secret. */
  secret: string;
  /** Token lifetime in seconds (default 15 minutes). */
  ttlSeconds?: number;
  /** Sessions whose tokens are refused although well signed and unexpired. */
  revocations?: SessionRevocations;
}

export class Auth {
  private readonly key: Uint8Array;
  readonly ttlSeconds: number;
  readonly revocations: SessionRevocations | undefined;

  constructor(opts: AuthOptions) {
    this.key = new TextEncoder().encode(opts.secret);
    this.ttlSeconds = opts.ttlSeconds ?? TOKEN_TTL_SECONDS;
    this.revocations = opts.revocations;
  }

  /**
   * A token for `user` in session `sessionId`, expiring after the configured lifetime, or at
   * `notAfter` (ms since the epoch: the end of its session) if that comes first. Without a
   * session (server code, tests) the token works until it expires but cannot be refreshed.
   */
  async sign(
    user: User,
    sessionId: string = randomUUID(),
    opts: { notAfter?: number } = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    let exp = now + this.ttlSeconds;
    if (opts.notAfter !== undefined) exp = Math.min(exp, Math.floor(opts.notAfter / 1000));
    return new SignJWT({ name: user.name, org: user.org, sid: sessionId })
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(user.id)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.key);
  }

  /**
   * The user of a valid token; throws `Unauthorized` with `auth_required`, `token_expired`,
   * `invalid_token`, `session_revoked` or `account_removed`.
   */
  async verify(token: unknown): Promise<User> {
    return (await this.verifyClaims(token)).user;
  }

  /**
   * Everything a valid token says. `allowExpiredFor` (seconds) accepts a token expired that
   * recently: only refresh and sign-out use it, and they check the session in the database.
   */
  async verifyClaims(
    token: unknown,
    opts: { allowExpiredFor?: number } = {},
  ): Promise<TokenClaims> {
    if (token === undefined || token === null || token === "") {
      throw new Unauthorized("Sign in first: this needs a token.", { code: "auth_required" });
    }
    if (typeof token !== "string") {
      throw new Unauthorized("The token is not a string.", { code: "invalid_token" });
    }
    let verified: TokenClaims;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        clockTolerance: opts.allowExpiredFor ?? 0,
        requiredClaims: ["exp", "sub", "sid"],
      });
      const parsed = claims.safeParse(payload);
      if (!parsed.success) {
        throw new Unauthorized("The token does not carry a user.", { code: "invalid_token" });
      }
      const c = parsed.data;
      verified = {
        user: { id: c.sub, name: c.name, org: c.org },
        sessionId: c.sid,
        expiresAt: c.exp * 1000,
      };
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      if (err instanceof joseErrors.JWTExpired) {
        throw new Unauthorized("Your session expired: refresh the token or sign in again.", {
          code: "token_expired",
        });
      }
      throw new Unauthorized("The token is not valid: sign in again.", { code: "invalid_token" });
    }
    const revoked = this.revocations?.reasonFor(verified.sessionId);
    if (revoked) throw revokedError(revoked);
    return verified;
  }

  /** The user of an HTTP request's `Authorization: Bearer` header. */
  async fromRequest(c: Context): Promise<User> {
    return this.verify(bearerToken(c.req.header("authorization")));
  }
}

/** The refusal of a token whose session was ended. */
export function revokedError(reason: "session_revoked" | "account_removed"): Unauthorized {
  return reason === "account_removed"
    ? new Unauthorized("You were removed from this organisation.", { code: reason })
    : new Unauthorized("You were signed out: sign in again.", { code: reason });
}

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : header;
}
