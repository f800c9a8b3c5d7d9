/**
 * Hand-made HS256 JWTs for the auth tests: a token signed with the wrong secret (forged), one
 * signed with the right secret but already expired, and one without `exp`. Built with
 * node:crypto on purpose, so the tests do not share a JWT library with the server they check.
 */
import { createHmac, randomUUID } from "node:crypto";

export interface TokenClaims {
  sub: string;
  name: string;
  org: string;
  /** The sign-in session; refresh checks it. */
  sid: string;
  iat: number;
  exp?: number;
}

/** The claims of a token, read without checking it (as a browser does). */
export function claimsOf(token: string): TokenClaims {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8"));
}

export function signHs256(claims: TokenClaims, secret: string): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${encode({ alg: "HS256", typ: "JWT" })}.${encode(claims)}`;
  const signature = createHmac("sha256", secret).update(unsigned).digest("base64url");
  return `${unsigned}.${signature}`;
}

/** Well-formed and unexpired, but signed with a secret the server does not know. */
export function forgedToken(user: { id?: string; name: string; org: string }): string {
  const now = Math.floor(Date.now() / 1000);
  return signHs256(
    {
      sub: user.id ?? randomUUID(),
      name: user.name,
      org: user.org,
      sid: randomUUID(),
      iat: now,
      exp: now + 3600,
    },
    "not-the-server-secret-0123456789abcdef0123456789",
  );
}

/**
 * Signed with the server's own secret, but expired a minute ago. With the `sid` of a real
 * session (from `claimsOf(token)`) it can be refreshed while that session lives.
 */
export function expiredToken(
  user: { id?: string; name: string; org: string },
  secret: string,
  sid: string = randomUUID(),
) {
  const now = Math.floor(Date.now() / 1000);
  return signHs256(
    {
      sub: user.id ?? randomUUID(),
      name: user.name,
      org: user.org,
      sid,
      iat: now - 7200,
      exp: now - 60,
    },
    secret,
  );
}

/** Signed with the server's own secret for a real user and session, but with no `exp`. */
export function tokenWithoutExp(token: string, secret: string): string {
  const { exp: _exp, ...claims } = claimsOf(token);
  return signHs256(claims, secret);
}
