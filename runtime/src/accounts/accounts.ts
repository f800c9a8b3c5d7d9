/**
 * Organisations, accounts, sign-in sessions and invite links, in the app's Postgres (the tables of `schema.ts`, which the app's
 * migrations create).
 *
 * - The first person **creates an organisation** (its name gives a unique slug, the key of its
 *   actors) and becomes its admin; they get the organisation's invite link.
 * - Everyone else **joins through the invite link**: a random 192-bit code with an expiry, usable
 *   by several people, replaced (and so revoked) when an admin renews it.
 * - Returning people **sign in** with organisation, username (or email) and password. A failure
 *   says only "wrong organisation, username or password", takes as long whichever it was (an
 *   unknown account is checked against a dummy hash) and counts towards the throttle.
 * - Every sign-in opens a **session**; tokens carry its id. Signing out (one session or all of
 *   them) and an admin removing a member revoke sessions in SQL and in `SessionRevocations`,
 *   which refuses their tokens everywhere at once and closes their open connections.
 * - A session is **bounded**: `refresh` renews a token only for a live, unrevoked session, at most
 *   `SESSION_MAX_LIFETIME_SECONDS` after sign-in and `SESSION_IDLE_SECONDS` after its last token
 *   was issued, and a token never outlives its session.
 *
 * @example
 * const accounts = new Accounts({ db, auth });
 * const { token, invite } = await accounts.createOrganisation({ orgName: "Acme", displayName: "Ada",
 *   login: "ada@acme.test", password: "correct horse" });
 * await accounts.join({ code: invite.code, displayName: "Bo", login: "bo", password: "…" });
 */
import { randomBytes, randomUUID } from "node:crypto";
import { and, asc, eq, gt, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { Unauthorized, UserError } from "../actor/errors.js";
import { type Auth, revokedError, type User } from "./auth.js";
import { type AccountsDb, inTransaction } from "./db.js";
import {
  DEFAULT_SCRYPT,
  dummyHash,
  hashParams,
  hashPassword,
  passwordSchema,
  type ScryptParams,
  verifyPassword,
} from "./password.js";
import {
  LOGIN_PATTERN,
  LOGIN_PATTERN_HINT,
  MIN_LOGIN_LENGTH,
  MIN_SLUG_LENGTH,
  slugify,
} from "./rules.js";
import { accounts, invites, organisations, sessions } from "./schema.js";
import { AttemptThrottle } from "./throttle.js";
import { parseBody, withoutNul } from "./validation.js";

/** How long an invite link works. */
export const INVITE_TTL_SECONDS = 7 * 24 * 60 * 60;
/**
 * A session's absolute lifetime: after this long since sign-in its tokens cannot be refreshed
 * (and none is issued past it), whatever happens, so a leaked token renews itself this long at
 * most. Then the person signs in again.
 */
export const SESSION_MAX_LIFETIME_SECONDS = 30 * 24 * 60 * 60;
/**
 * A session's idle limit: a session whose last token was issued this long ago is over (a tab
 * left open refreshes every `TOKEN_TTL_SECONDS`, so only a session nobody uses reaches it).
 */
export const SESSION_IDLE_SECONDS = 7 * 24 * 60 * 60;

export type Role = "admin" | "member";

export interface Invite {
  code: string;
  expiresAt: number;
}

export interface SignedIn {
  token: string;
  user: User;
  role: Role;
}

export interface MemberInfo {
  id: string;
  name: string;
  login: string;
  role: Role;
  joinedAt: number;
}

const displayName = withoutNul(
  z
    .string({ error: "Enter a display name." })
    .trim()
    .min(1, "Enter a display name.")
    .max(40, "A display name is at most 40 characters."),
  "A display name",
);

const login = z
  .string({ error: "Enter a username or email." })
  .trim()
  .toLowerCase()
  .min(MIN_LOGIN_LENGTH, `A username is at least ${MIN_LOGIN_LENGTH} characters.`)
  .max(254, "A username or email is at most 254 characters.")
  .regex(LOGIN_PATTERN, LOGIN_PATTERN_HINT);

const orgName = withoutNul(
  z
    .string({ error: "Enter the organisation's name." })
    .trim()
    .min(2, "An organisation's name is at least 2 characters.")
    .max(60, "An organisation's name is at most 60 characters."),
  "An organisation's name",
);

const inviteCode = z
  .string({ error: "This invite link is not complete." })
  .trim()
  .regex(/^[A-Za-z0-9_-]{16,64}$/, "This invite link is not complete: copy it again.");

const newAccount = z.object({ displayName, login, password: passwordSchema });
const createOrganisationBody = newAccount.extend({ orgName });
const joinBody = newAccount.extend({ code: inviteCode });

/**
 * A new organisation's request, checked (`UserError` with code `invalid_input` and the issues
 * when it is not acceptable), with the organisation's slug. `troupe/accounts/form` checks the
 * same in the page; its test holds the two together.
 */
export function parseNewOrganisation(input: unknown): {
  body: z.output<typeof createOrganisationBody>;
  slug: string;
} {
  const body = parseBody(createOrganisationBody, input);
  const slug = slugify(body.orgName);
  if (slug.length < MIN_SLUG_LENGTH) {
    throw new UserError(
      `Give the organisation a name with at least ${MIN_SLUG_LENGTH} letters or digits.`,
      {
        code: "invalid_input",
        metadata: { issues: [{ path: ["orgName"], message: "Not enough letters or digits." }] },
      },
    );
  }
  return { body, slug };
}

const signInBody = z.object({
  // Not the slug rule: a wrong organisation must fail like a wrong password, not with a hint.
  org: withoutNul(
    z.string({ error: "Enter your organisation." }).trim().toLowerCase().min(1).max(100),
    "An organisation",
  ),
  login: withoutNul(
    z.string({ error: "Enter your username or email." }).trim().toLowerCase().min(1).max(254),
    "A username",
  ),
  password: z.string({ error: "Enter your password." }).min(1).max(1000),
});
const removeMemberId = z.string().min(1).max(100);

const WRONG_CREDENTIALS = "Wrong organisation, username or password.";

export interface AccountsOptions {
  db: AccountsDb;
  auth: Auth;
  /** Password hashing cost (tests lower it). */
  scrypt?: ScryptParams;
  inviteTtlSeconds?: number;
  throttle?: AttemptThrottle;
}

export class Accounts {
  private readonly db: AccountsDb;
  private readonly auth: Auth;
  private readonly scrypt: ScryptParams;
  private readonly inviteTtlMs: number;
  readonly throttle: AttemptThrottle;
  private dummy: Promise<string> | undefined;

  constructor(opts: AccountsOptions) {
    this.db = opts.db;
    this.auth = opts.auth;
    this.scrypt = opts.scrypt ?? DEFAULT_SCRYPT;
    this.inviteTtlMs = (opts.inviteTtlSeconds ?? INVITE_TTL_SECONDS) * 1000;
    this.throttle = opts.throttle ?? new AttemptThrottle();
  }

  /** A new organisation with its first member, its admin, and its invite link. */
  async createOrganisation(input: unknown): Promise<SignedIn & { invite: Invite }> {
    const { body, slug } = parseNewOrganisation(input);
    const passwordHash = await hashPassword(body.password, this.scrypt);
    const now = new Date();
    const orgId = randomUUID();
    const accountId = randomUUID();
    const sessionId = randomUUID();
    const invite = this.newInvite(now);
    try {
      await inTransaction(this.db, async (tx) => {
        await tx
          .insert(organisations)
          .values({ id: orgId, slug, name: body.orgName, createdAt: now });
        await tx.insert(accounts).values({
          id: accountId,
          orgId,
          login: body.login,
          displayName: body.displayName,
          passwordHash,
          role: "admin",
          createdAt: now,
        });
        await tx
          .insert(sessions)
          .values({ id: sessionId, accountId, createdAt: now, lastRefreshedAt: now });
        await tx.insert(invites).values({
          code: invite.code,
          orgId,
          createdBy: accountId,
          createdAt: now,
          expiresAt: new Date(invite.expiresAt),
        });
      });
    } catch (err) {
      if (isUniqueViolation(err, "organisations_slug_unique")) {
        throw new UserError(
          `An organisation called "${slug}" already exists. If you belong to it, ask a member for its invite link; otherwise pick another name.`,
          { code: "org_taken", metadata: { slug } },
        );
      }
      throw err;
    }
    const user: User = { id: accountId, name: body.displayName, org: slug };
    return {
      token: await this.auth.sign(user, sessionId, { notAfter: sessionEnd(now) }),
      user,
      role: "admin",
      invite,
    };
  }

  /** What an invite link leads to (for the join screen), or a refusal saying why not. */
  async previewInvite(
    code: unknown,
  ): Promise<{ org: { slug: string; name: string }; expiresAt: number }> {
    const invite = await this.usableInvite(parseBody(inviteCode, code), new Date());
    return { org: { slug: invite.slug, name: invite.name }, expiresAt: invite.expiresAt.getTime() };
  }

  /** A new member through an invite link. */
  async join(input: unknown): Promise<SignedIn> {
    const body = parseBody(joinBody, input);
    // Checked before hashing, so a dead link fails fast; checked again inside the transaction.
    await this.usableInvite(body.code, new Date());
    const passwordHash = await hashPassword(body.password, this.scrypt);
    const now = new Date();
    const accountId = randomUUID();
    const sessionId = randomUUID();
    let slug = "";
    try {
      await inTransaction(this.db, async (tx) => {
        // FOR UPDATE: a renewal that revokes this invite waits for the join, or the join sees it.
        const [invite] = await tx
          .select({
            orgId: invites.orgId,
            slug: organisations.slug,
            expiresAt: invites.expiresAt,
            revokedAt: invites.revokedAt,
          })
          .from(invites)
          .innerJoin(organisations, eq(organisations.id, invites.orgId))
          .where(eq(invites.code, body.code))
          .for("update", { of: invites });
        if (!invite) throw inviteNotFound();
        checkInvite(invite, now);
        slug = invite.slug;
        await tx.insert(accounts).values({
          id: accountId,
          orgId: invite.orgId,
          login: body.login,
          displayName: body.displayName,
          passwordHash,
          role: "member",
          createdAt: now,
        });
        await tx
          .insert(sessions)
          .values({ id: sessionId, accountId, createdAt: now, lastRefreshedAt: now });
        await tx
          .update(invites)
          .set({ uses: sql`${invites.uses} + 1` })
          .where(eq(invites.code, body.code));
      });
    } catch (err) {
      if (isUniqueViolation(err, "accounts_org_login_idx")) {
        throw new UserError(
          `The username "${body.login}" is already taken in this organisation. If it is yours, sign in instead.`,
          { code: "login_taken" },
        );
      }
      throw err;
    }
    const user: User = { id: accountId, name: body.displayName, org: slug };
    return {
      token: await this.auth.sign(user, sessionId, { notAfter: sessionEnd(now) }),
      user,
      role: "member",
    };
  }

  /** A returning person. `address` is the client's, for the throttle. */
  async signIn(input: unknown, address: string): Promise<SignedIn> {
    const body = parseBody(signInBody, input);
    const accountKey = AttemptThrottle.accountKey(body.org, body.login, address);
    const addressKey = AttemptThrottle.addressKey(address);
    this.throttle.check([accountKey, addressKey]);
    const [row] = await this.db
      .select({
        id: accounts.id,
        displayName: accounts.displayName,
        passwordHash: accounts.passwordHash,
        role: accounts.role,
        removedAt: accounts.removedAt,
      })
      .from(accounts)
      .innerJoin(organisations, eq(organisations.id, accounts.orgId))
      .where(and(eq(organisations.slug, body.org), eq(accounts.login, body.login)))
      .limit(1);
    // Always one scrypt, so an unknown account answers no faster than a wrong password.
    const ok = await verifyPassword(body.password, row?.passwordHash ?? (await this.dummyHash()));
    if (!row || !ok || row.removedAt !== null) {
      this.throttle.failed(accountKey, addressKey);
      throw new Unauthorized(WRONG_CREDENTIALS, { code: "invalid_credentials" });
    }
    this.throttle.succeeded(accountKey);
    await this.upgradeHash(row.id, row.passwordHash, body.password);
    const now = new Date();
    const sessionId = randomUUID();
    await this.db
      .insert(sessions)
      .values({ id: sessionId, accountId: row.id, createdAt: now, lastRefreshedAt: now });
    const user: User = { id: row.id, name: row.displayName, org: body.org };
    return {
      token: await this.auth.sign(user, sessionId, { notAfter: sessionEnd(now) }),
      user,
      role: row.role,
    };
  }

  /**
   * A fresh token for a valid or recently expired one, if its session is live: not revoked, the
   * account not removed, younger than `SESSION_MAX_LIFETIME_SECONDS`, and its last token issued
   * less than `SESSION_IDLE_SECONDS` ago. The new token expires with the session at the latest.
   */
  async refresh(token: unknown): Promise<SignedIn> {
    // A token older than the idle limit belongs to an idle session: no need to look it up.
    const claims = await this.auth.verifyClaims(token, { allowExpiredFor: SESSION_IDLE_SECONDS });
    const [row] = await this.db
      .select({
        createdAt: sessions.createdAt,
        lastRefreshedAt: sessions.lastRefreshedAt,
        revokedAt: sessions.revokedAt,
        accountId: accounts.id,
        removedAt: accounts.removedAt,
        displayName: accounts.displayName,
        role: accounts.role,
      })
      .from(sessions)
      .innerJoin(accounts, eq(accounts.id, sessions.accountId))
      .where(eq(sessions.id, claims.sessionId))
      .limit(1);
    if (!row || row.accountId !== claims.user.id) {
      throw new Unauthorized("This session does not exist any more: sign in again.", {
        code: "session_revoked",
      });
    }
    if (row.removedAt !== null) throw revokedError("account_removed");
    if (row.revokedAt !== null) throw revokedError("session_revoked");
    const now = new Date();
    const endsAt = sessionEnd(row.createdAt);
    if (endsAt <= now.getTime()) {
      throw new Unauthorized(
        `Your session is over (sessions last ${SESSION_MAX_LIFETIME_SECONDS / 86_400} days): sign in again.`,
        { code: "session_expired" },
      );
    }
    if (row.lastRefreshedAt.getTime() + SESSION_IDLE_SECONDS * 1000 <= now.getTime()) {
      throw new Unauthorized(
        `Your session ended after ${SESSION_IDLE_SECONDS / 86_400} days without use: sign in again.`,
        { code: "session_expired" },
      );
    }
    // Only a session still unrevoked: a sign-out racing this refresh wins.
    const updated = await this.db
      .update(sessions)
      .set({ lastRefreshedAt: now })
      .where(and(eq(sessions.id, claims.sessionId), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id });
    if (updated.length === 0) throw revokedError("session_revoked");
    const user: User = { ...claims.user, name: row.displayName };
    return {
      token: await this.auth.sign(user, claims.sessionId, { notAfter: endsAt }),
      user,
      role: row.role,
    };
  }

  /**
   * Revokes the token's session, or every session of its account with `everywhere`: their
   * tokens are refused from now on and their open connections are closed.
   */
  async signOut(token: unknown, everywhere: boolean): Promise<{ revoked: number }> {
    const claims = await this.auth.verifyClaims(token, { allowExpiredFor: SESSION_IDLE_SECONDS });
    const now = new Date();
    const revoked = await this.db
      .update(sessions)
      .set({ revokedAt: now })
      .where(
        and(
          everywhere ? eq(sessions.accountId, claims.user.id) : eq(sessions.id, claims.sessionId),
          isNull(sessions.revokedAt),
        ),
      )
      .returning({ id: sessions.id, createdAt: sessions.createdAt });
    this.auth.revocations?.revoke(revoked, "session_revoked");
    return { revoked: revoked.length };
  }

  /** The caller's role, from the database (it is not in the token). */
  async role(user: User): Promise<Role> {
    return (await this.member(user)).role;
  }

  /** The organisation's current invite link, for any member. */
  async currentInvite(user: User): Promise<Invite | null> {
    const { orgId } = await this.member(user);
    const [row] = await this.db
      .select({ code: invites.code, expiresAt: invites.expiresAt })
      .from(invites)
      .where(
        and(eq(invites.orgId, orgId), isNull(invites.revokedAt), gt(invites.expiresAt, new Date())),
      )
      .orderBy(sql`${invites.createdAt} DESC`)
      .limit(1);
    return row ? { code: row.code, expiresAt: row.expiresAt.getTime() } : null;
  }

  /** Admins only: a new invite link; every older one stops working. */
  async renewInvite(user: User): Promise<Invite> {
    const { orgId } = await this.admin(user);
    const now = new Date();
    const invite = this.newInvite(now);
    await inTransaction(this.db, async (tx) => {
      await tx
        .update(invites)
        .set({ revokedAt: now })
        .where(and(eq(invites.orgId, orgId), isNull(invites.revokedAt)));
      await tx.insert(invites).values({
        code: invite.code,
        orgId,
        createdBy: user.id,
        createdAt: now,
        expiresAt: new Date(invite.expiresAt),
      });
    });
    return invite;
  }

  async listMembers(user: User): Promise<MemberInfo[]> {
    const { orgId } = await this.member(user);
    const rows = await this.db
      .select()
      .from(accounts)
      .where(and(eq(accounts.orgId, orgId), isNull(accounts.removedAt)))
      .orderBy(asc(accounts.createdAt));
    return rows.map((r) => ({
      id: r.id,
      name: r.displayName,
      login: r.login,
      role: r.role,
      joinedAt: r.createdAt.getTime(),
    }));
  }

  /**
   * Admins only: removes a member. Their sessions are revoked: their tokens are refused from
   * now on and their open connections are closed (`account_removed`).
   */
  async removeMember(user: User, memberId: unknown): Promise<{ removed: string }> {
    const { orgId } = await this.admin(user);
    const id = parseBody(removeMemberId, memberId);
    if (id === user.id) {
      throw new UserError("You cannot remove yourself.", { code: "invalid_input" });
    }
    const now = new Date();
    const revoked = await inTransaction(this.db, async (tx) => {
      const removed = await tx
        .update(accounts)
        .set({ removedAt: now })
        .where(and(eq(accounts.id, id), eq(accounts.orgId, orgId), isNull(accounts.removedAt)))
        .returning({ id: accounts.id });
      if (removed.length === 0) {
        throw new UserError("No such member in your organisation.", { code: "not_found" });
      }
      // Every session, revoked before or not: account_removed is the reason to show.
      await tx
        .update(sessions)
        .set({ revokedAt: now })
        .where(and(eq(sessions.accountId, id), isNull(sessions.revokedAt)));
      return tx
        .select({ id: sessions.id, createdAt: sessions.createdAt })
        .from(sessions)
        .where(eq(sessions.accountId, id));
    });
    this.auth.revocations?.revoke(revoked, "account_removed");
    return { removed: id };
  }

  // ---- helpers --------------------------------------------------------------------------------

  private newInvite(now: Date): Invite {
    return {
      code: randomBytes(24).toString("base64url"),
      expiresAt: now.getTime() + this.inviteTtlMs,
    };
  }

  /**
   * After a successful sign-in, rehashes a password stored with other parameters than the
   * current ones: raising `DEFAULT_SCRYPT` upgrades accounts as people sign in.
   */
  private async upgradeHash(accountId: string, stored: string, password: string): Promise<void> {
    const params = hashParams(stored);
    const current = this.scrypt;
    if (params && params.N === current.N && params.r === current.r && params.p === current.p) {
      return;
    }
    const passwordHash = await hashPassword(password, current);
    await this.db.update(accounts).set({ passwordHash }).where(eq(accounts.id, accountId));
  }

  private dummyHash(): Promise<string> {
    this.dummy ??= dummyHash(this.scrypt);
    return this.dummy;
  }

  /** The caller's live account in the token's organisation; `forbidden` if removed. */
  private async member(user: User): Promise<{ orgId: string; role: Role }> {
    const [row] = await this.db
      .select({ orgId: accounts.orgId, role: accounts.role, slug: organisations.slug })
      .from(accounts)
      .innerJoin(organisations, eq(organisations.id, accounts.orgId))
      .where(and(eq(accounts.id, user.id), isNull(accounts.removedAt)))
      .limit(1);
    if (!row || row.slug !== user.org) {
      throw new UserError("You are not a member of this organisation any more.", {
        code: "forbidden",
      });
    }
    return { orgId: row.orgId, role: row.role };
  }

  private async admin(user: User): Promise<{ orgId: string }> {
    const m = await this.member(user);
    if (m.role !== "admin") {
      throw new UserError("Only an admin of the organisation can do that.", { code: "forbidden" });
    }
    return m;
  }

  private async usableInvite(code: string, now: Date) {
    const [row] = await this.db
      .select({
        slug: organisations.slug,
        name: organisations.name,
        expiresAt: invites.expiresAt,
        revokedAt: invites.revokedAt,
      })
      .from(invites)
      .innerJoin(organisations, eq(organisations.id, invites.orgId))
      .where(eq(invites.code, code))
      .limit(1);
    if (!row) throw inviteNotFound();
    checkInvite(row, now);
    return row;
  }
}

/** When a session started at `createdAt` ends, whatever its use (ms since the epoch). */
export function sessionEnd(createdAt: Date): number {
  return createdAt.getTime() + SESSION_MAX_LIFETIME_SECONDS * 1000;
}

function inviteNotFound(): UserError {
  return new UserError(
    "This invite link is not valid: ask a member of the organisation for its current link.",
    {
      code: "invite_invalid",
    },
  );
}

function checkInvite(invite: { expiresAt: Date; revokedAt: Date | null }, now: Date): void {
  if (invite.revokedAt !== null) {
    throw new UserError(
      "This invite link was replaced by a newer one: ask a member for the current link.",
      {
        code: "invite_invalid",
      },
    );
  }
  if (invite.expiresAt.getTime() <= now.getTime()) {
    throw new UserError(
      "This invite link has expired: ask an admin of the organisation for a new one.",
      {
        code: "invite_expired",
      },
    );
  }
}

/** A Postgres unique violation (23505) on the named constraint or index. */
function isUniqueViolation(err: unknown, constraint: string): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const pgErr = e as { code?: unknown; constraint?: unknown };
    if (pgErr.code === "23505" && pgErr.constraint === constraint) return true;
  }
  return false;
}
