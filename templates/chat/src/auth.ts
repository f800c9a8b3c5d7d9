/**
 * Sign-in and token checks for the chat.
 *
 * There are no passwords: a person picks a display name and an organisation slug and gets a
 * short-lived JWT (HS256, `jose`). Every user id is a fresh random UUID, not something derived
 * from the name: names are not unique, and an id derived from `displayName + org` would let
 * anyone who types the same name become that user and edit or delete their messages. A returning
 * tab keeps its identity by refreshing its token (`POST /api/auth/refresh`, which accepts a token
 * that expired recently, signature still checked) instead of signing in again.
 *
 * Identity only ever comes from a verified token: actors read it in `createConnState`, HTTP
 * routes from `Authorization: Bearer`. Failures carry distinct codes so the UI can explain them:
 * `auth_required` (no token), `token_expired`, `invalid_token` (forged, garbled, wrong
 * algorithm or malformed claims).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Context } from "hono";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { UserError } from "troupe";
import { z } from "zod";

/** Default lifetime of a token. */
export const TOKEN_TTL_SECONDS = 60 * 60;
/** How long after expiry a token can still be exchanged for a new one. */
export const REFRESH_GRACE_SECONDS = 7 * 24 * 60 * 60;
const ALGORITHM = "HS256";

export const orgSlug = z
  .string()
  .trim()
  .regex(/^[a-z0-9-]{2,40}$/, "An organisation is 2 to 40 characters: a-z, 0-9 and '-'.");

export const signInBody = z.object({
  displayName: z
    .string()
    .trim()
    .min(1, "Enter a display name.")
    .max(40, "A display name is at most 40 characters."),
  org: orgSlug,
});

export interface User {
  id: string;
  name: string;
  org: string;
}

const claims = z.object({
  sub: z.string().min(1).max(100),
  name: z.string().min(1).max(40),
  org: orgSlug,
});

export interface AuthOptions {
  /** The HS256 secret. */
  secret: string;
  /** Token lifetime in seconds (default one hour). */
  ttlSeconds?: number;
}

export class Auth {
  private readonly key: Uint8Array;
  readonly ttlSeconds: number;

  constructor(opts: AuthOptions) {
    this.key = new TextEncoder().encode(opts.secret);
    this.ttlSeconds = opts.ttlSeconds ?? TOKEN_TTL_SECONDS;
  }

  /** Signs a token for a new user. */
  async signIn(input: unknown): Promise<{ token: string; user: User }> {
    const parsed = signInBody.safeParse(input);
    if (!parsed.success) {
      throw new UserError(parsed.error.issues[0]?.message ?? "Invalid sign-in.", {
        code: "invalid_input",
        metadata: {
          issues: parsed.error.issues.map((i) => ({ path: i.path, message: i.message })),
        },
      });
    }
    const user: User = { id: randomUUID(), name: parsed.data.displayName, org: parsed.data.org };
    return { token: await this.sign(user), user };
  }

  async sign(user: User): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ name: user.name, org: user.org })
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(user.id)
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttlSeconds)
      .sign(this.key);
  }

  /** Verifies a token; throws `UserError` with `auth_required`, `token_expired` or `invalid_token`. */
  async verify(token: unknown, opts: { allowExpiredFor?: number } = {}): Promise<User> {
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
      });
      const parsed = claims.safeParse(payload);
      if (!parsed.success) {
        throw new UserError("The token does not carry a user.", { code: "invalid_token" });
      }
      return { id: parsed.data.sub, name: parsed.data.name, org: parsed.data.org };
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

  /** Exchanges a valid or recently expired token for a fresh one with the same user. */
  async refresh(token: unknown): Promise<{ token: string; user: User }> {
    const user = await this.verify(token, { allowExpiredFor: REFRESH_GRACE_SECONDS });
    return { token: await this.sign(user), user };
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
