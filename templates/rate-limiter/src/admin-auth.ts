/**
 * The dashboard's admin sign-in. One admin, whose password comes from `ADMIN_PASSWORD` on the
 * first start, or outside production from the dashboard's first-run form (`createAdmin`), and
 * is kept in SQL as a scrypt hash made by `troupe/accounts/password` (the same hashing as the
 * accounts of the other templates: `node:crypto`, NFKC-normalised, parameters in the hash);
 * later starts ignore the variable. A sign-in returns a bearer token: an expiry signed with
 * HMAC-SHA256 under the app's secret (`troupe/secret`), checked without a database round trip.
 * Signing out ends that token on the server (`AdminSessions.signOut`): its session id goes into
 * SQL and into the in-memory set every check consults, so a copied token stops working at once
 * (one replica; a restart reads the set back from SQL).
 *
 * The password module is imported by its own path, not from `troupe/accounts`, whose index also
 * brings `jose` and the account routes: the Worker build (`worker.ts`) needs none of them.
 *
 * @example
 * await ensureAdmin(db, process.env.ADMIN_PASSWORD);
 * const token = await signIn(db, secret, password); // undefined when wrong
 * const sessions = await AdminSessions.load(db, secret);
 * sessions.verify(token); // true while unexpired and not signed out
 * await sessions.signOut(token);
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { eq, lt } from "drizzle-orm";
import {
  DEFAULT_SCRYPT,
  hashPassword,
  type ScryptParams,
  verifyPassword,
} from "troupe/accounts/password";
import type { Db } from "./db/index.js";
import { admin, adminSignOuts } from "./db/schema.js";

export const ADMIN_TOKEN_TTL_MS = 12 * 60 * 60 * 1000;
export const MIN_ADMIN_PASSWORD_LENGTH = 12;

/**
 * Sets the admin password from `password` if none is stored yet. Returns whether an admin
 * exists afterwards (false: no password stored and none given, so sign-in is impossible).
 */
export async function ensureAdmin(
  db: Db,
  password: string | undefined,
  cost: ScryptParams = DEFAULT_SCRYPT,
): Promise<boolean> {
  const [row] = await db.select({ id: admin.id }).from(admin).where(eq(admin.id, 1));
  if (row) return true;
  if (!password) return false;
  if (password.length < MIN_ADMIN_PASSWORD_LENGTH) {
    throw new Error(
      `ADMIN_PASSWORD must be at least ${MIN_ADMIN_PASSWORD_LENGTH} characters long.`,
    );
  }
  await db
    .insert(admin)
    .values({ id: 1, passwordHash: await hashPassword(password, cost) })
    .onConflictDoNothing();
  return true;
}

/**
 * The first-run setup (outside production): stores `password` as the admin's if no admin exists
 * yet. Atomic: of two racing calls exactly one gets `"created"`, the other `"exists"` (the
 * insert on the one admin row decides, not the check before the hash, which only spares a
 * hash). The caller checks the password's length (`MIN_ADMIN_PASSWORD_LENGTH`) first.
 */
export async function createAdmin(
  db: Db,
  password: string,
  cost = DEFAULT_SCRYPT,
): Promise<"created" | "exists"> {
  if (await adminExists(db)) return "exists";
  const inserted = await db
    .insert(admin)
    .values({ id: 1, passwordHash: await hashPassword(password, cost) })
    .onConflictDoNothing()
    .returning({ id: admin.id });
  return inserted.length === 1 ? "created" : "exists";
}

/** Whether an admin password is stored. */
export async function adminExists(db: Db): Promise<boolean> {
  const [row] = await db.select({ id: admin.id }).from(admin).where(eq(admin.id, 1));
  return row !== undefined;
}

/** A token for the admin if `password` is right, else undefined. */
export async function signIn(
  db: Db,
  secret: string,
  password: string,
): Promise<string | undefined> {
  const [row] = await db.select().from(admin).where(eq(admin.id, 1));
  if (!row || !(await verifyPassword(password, row.passwordHash))) return undefined;
  const claims = {
    exp: Date.now() + ADMIN_TOKEN_TTL_MS,
    sid: randomBytes(16).toString("base64url"),
  };
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  return `${payload}.${sign(secret, payload)}`;
}

interface AdminClaims {
  exp: number;
  sid: string;
}

/** The token's claims if its signature is right and it has not expired (sign-out not checked). */
export function readAdminToken(secret: string, token: string | undefined): AdminClaims | null {
  if (!token) return null;
  const [payload, mac] = token.split(".");
  if (!payload || !mac) return null;
  const expected = Buffer.from(sign(secret, payload));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    const { exp, sid } = JSON.parse(Buffer.from(payload, "base64url").toString()) as Partial<
      Record<keyof AdminClaims, unknown>
    >;
    if (typeof exp !== "number" || exp <= Date.now() || typeof sid !== "string") return null;
    return { exp, sid };
  } catch {
    return null;
  }
}

/** Checks admin tokens against their signature, expiry and the sessions signed out. */
export class AdminSessions {
  private constructor(
    private readonly db: Db,
    private readonly secret: string,
    /** Signed-out session id -> when its token expires (then it can be forgotten). */
    private readonly signedOut: Map<string, number>,
  ) {}

  /** Reads the sign-outs that still matter from SQL (and deletes the rest). */
  static async load(db: Db, secret: string): Promise<AdminSessions> {
    const now = new Date();
    await db.delete(adminSignOuts).where(lt(adminSignOuts.expiresAt, now));
    const rows = await db.select().from(adminSignOuts);
    return new AdminSessions(
      db,
      secret,
      new Map(rows.map((r) => [r.sessionId, r.expiresAt.getTime()])),
    );
  }

  verify(token: string | undefined): boolean {
    const claims = readAdminToken(this.secret, token);
    return claims !== null && !this.signedOut.has(claims.sid);
  }

  /** Ends the token's session for good. Returns false for a token that was no good anyway. */
  async signOut(token: string | undefined): Promise<boolean> {
    const claims = readAdminToken(this.secret, token);
    if (!claims) return false;
    await this.db
      .insert(adminSignOuts)
      .values({ sessionId: claims.sid, expiresAt: new Date(claims.exp) })
      .onConflictDoNothing();
    const now = Date.now();
    for (const [sid, exp] of this.signedOut) if (exp <= now) this.signedOut.delete(sid);
    this.signedOut.set(claims.sid, claims.exp);
    return true;
  }
}

function sign(secret: string, payload: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}
