/**
 * Tokens of the chat: signing and verification (HS256, `jose`), and `AUTH_SECRET` handling.
 *
 * A token is issued by the account routes (`src/accounts/`) after a password check: it carries
 * the account id (`sub`), the display name, the organisation slug, the session id (`sid`, so
 * that refresh can tell a revoked session) and a required expiry (`exp`). A token without
 * `exp` is refused, whoever signed it: a token that never expires could never be taken back.
 *
 * Identity only ever comes from a verified token: actors read it in `createConnState`, HTTP
 * routes from `Authorization: Bearer`. Verification is local (signature and claims, no database
 * round trip), so actors keep working while the database is away; revocation takes effect at
 * the token's expiry, when refresh (which does read the database) refuses a revoked session.
 * Failures carry distinct codes so the UI can explain them: `auth_required` (no token),
 * `token_expired`, `invalid_token` (forged, garbled, wrong algorithm, missing or malformed
 * claims).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Context } from "hono";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { UserError } from "troupe";
import { z } from "zod";

/**
 * Default lifetime of a token. Short, because it bounds how long a removed member or a revoked
 * session keeps access: open connections are closed at expiry and must refresh to come back.
 */
export const TOKEN_TTL_SECONDS = 15 * 60;
/** How long after expiry a token can still be exchanged for a new one (if its session lives). */
export const REFRESH_GRACE_SECONDS = 7 * 24 * 60 * 60;
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
}

export class Auth {
  private readonly key: Uint8Array;
  readonly ttlSeconds: number;

  constructor(opts: AuthOptions) {
    this.key = new TextEncoder().encode(opts.secret);
    this.ttlSeconds = opts.ttlSeconds ?? TOKEN_TTL_SECONDS;
  }

  /**
   * A token for `user` in session `sessionId`, expiring after the configured lifetime. Without
   * a session (server code, tests) the token works until it expires but cannot be refreshed.
   */
  async sign(user: User, sessionId: string = randomUUID()): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ name: user.name, org: user.org, sid: sessionId })
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(user.id)
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttlSeconds)
      .sign(this.key);
  }

  /** The user of a valid token; throws `UserError` with `auth_required`, `token_expired` or `invalid_token`. */
  async verify(token: unknown): Promise<User> {
    return (await this.verifyClaims(token)).user;
  }

  /**
   * Everything a valid token says. `allowExpiredFor` (seconds) accepts a token expired that
   * recently: only refresh uses it, and it checks the session in the database as well.
   */
  async verifyClaims(
    token: unknown,
    opts: { allowExpiredFor?: number } = {},
  ): Promise<TokenClaims> {
    if (token === undefined || token === null || token === "") {
      throw new UserError("Sign in first: this needs a token.", { code: "auth_required" });
    }
    if (typeof token !== "string") {
      throw new UserError("The token is not a string.", { code: "invalid_token" });
    }
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        clockTolerance: opts.allowExpiredFor ?? 0,
        requiredClaims: ["exp", "sub", "sid"],
      });
      const parsed = claims.safeParse(payload);
      if (!parsed.success) {
        throw new UserError("The token does not carry a user.", { code: "invalid_token" });
      }
      const c = parsed.data;
      return {
        user: { id: c.sub, name: c.name, org: c.org },
        sessionId: c.sid,
        expiresAt: c.exp * 1000,
      };
    } catch (err) {
      if (err instanceof UserError) throw err;
      if (err instanceof joseErrors.JWTExpired) {
        throw new UserError("Your session expired: refresh the token or sign in again.", {
          code: "token_expired",
        });
      }
      throw new UserError("The token is not valid: sign in again.", { code: "invalid_token" });
    }
  }

  /** The user of an HTTP request's `Authorization: Bearer` header. */
  async fromRequest(c: Context): Promise<User> {
    return this.verify(bearerToken(c.req.header("authorization")));
  }
}

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : header;
}

/**
 * The secret: `AUTH_SECRET`; in production its absence is fatal (tokens signed with a random
 * secret would die with the process and differ between replicas). In development a random one
 * is generated, printed once, and kept in `.troupe/dev-auth-secret` so that a hot reload does
 * not sign everybody out.
 */
export function resolveAuthSecret(
  env: NodeJS.ProcessEnv = process.env,
  devSecretFile = join(".troupe", "dev-auth-secret"),
): string {
  const secret = env.AUTH_SECRET;
  if (secret) {
    if (env.NODE_ENV === "production" && secret.length < 32) {
      throw new Error("AUTH_SECRET must be at least 32 characters in production.");
    }
    return secret;
  }
  if (env.NODE_ENV === "production") {
    throw new Error(
      "AUTH_SECRET is not set. Set it to a random string of 32+ characters (e.g. `openssl rand -hex 32`).",
    );
  }
  if (existsSync(devSecretFile)) return readFileSync(devSecretFile, "utf8").trim();
  const generated = randomBytes(32).toString("hex");
  mkdirSync(dirname(devSecretFile), { recursive: true });
  writeFileSync(devSecretFile, generated, { mode: 0o600 });
  console.log(
    `[chat] AUTH_SECRET is not set; generated one for development (kept in ${devSecretFile}): ${generated}`,
  );
  return generated;
}
