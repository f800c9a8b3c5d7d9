/**
 * What the actors need from the app around them: token checks, the database and tunables.
 * The registry is built from these (`createRegistry(services)`) instead of importing globals, so
 * a test can run several independent apps (each with its own database) in one process.
 */
import { randomBytes } from "node:crypto";
import { and, eq, isNull } from "drizzle-orm";
import { Forbidden, UserError } from "troupe";
import type { Auth, User } from "troupe/accounts";
import type { Db } from "../db/index.js";
import { accounts, organisations } from "../db/schema.js";

/** Newest messages a room keeps in its state; older ones are read from SQL. */
export const RECENT_MESSAGES_IN_STATE = 200;
/** How often a room moves messages beyond the recent window out of its state. */
export const RETENTION_INTERVAL_MS = 60_000;
/** A "typing" indicator disappears this long after the last `typing()` call. */
export const TYPING_TTL_MS = 4000;

export interface ChatServices {
  auth: Auth;
  db: Db;
  /** Overrides of the constants above (tests use small values). */
  recentMessagesInState?: number;
  retentionIntervalMs?: number;
  typingTtlMs?: number;
  /** Overrides of the room's limits (`MAX_MEMBERS_PER_ROOM`, `MAX_SCHEDULED_PER_ROOM`). */
  maxMembersPerRoom?: number;
  maxScheduledPerRoom?: number;
  /** Override of the organisation's room limit (`MAX_ROOMS_PER_ORG`, the room list's). */
  maxRoomsPerOrg?: number;
}

/** Connection parameters: a user token, or the in-process key of actor-to-actor calls. */
export interface ChatConnParams {
  token?: string;
  internal?: string;
}

/**
 * `expiresAt` (ms) is the token's `exp`: the connection is closed then (`watchConnection` of troupe/accounts), or
 * earlier if its session (`sessionId`) is revoked.
 */
export type ChatConnState =
  | { kind: "user"; user: User; sessionId: string; expiresAt: number }
  | { kind: "internal" };

/**
 * A random key for calls between actors of this process (`c.client()` with
 * `params: { internal }`). It never leaves the process, so a client cannot present it.
 */
export function createInternalKey(): string {
  return randomBytes(32).toString("hex");
}

/**
 * The state of a new connection: the in-process key makes an internal one; otherwise a verified
 * token, whose user `check` may still refuse for this actor (another organisation, not the owner).
 */
export async function connStateOf(
  services: ChatServices,
  internalKey: string,
  params: ChatConnParams | undefined,
  check: (user: User) => void,
): Promise<ChatConnState> {
  if (params?.internal !== undefined) {
    if (params.internal !== internalKey) throw forbidden("Not an internal caller.");
    return { kind: "internal" };
  }
  const { user, sessionId, expiresAt } = await services.auth.verifyClaims(params?.token);
  check(user);
  return { kind: "user", user, sessionId, expiresAt };
}

/** A refusal of a signed-in person who may not do this (HTTP 403). */
export function forbidden(message: string): Forbidden {
  return new Forbidden(message);
}

/** The signed-in user of the calling connection; internal callers and alarms are refused. */
export function userOf(conn: { state: ChatConnState } | undefined): User {
  if (conn?.state.kind !== "user") {
    throw forbidden("This action needs a signed-in user.");
  }
  return conn.state.user;
}

/** Actions meant for alarms and sibling actors only. */
export function assertInternal(conn: { state: ChatConnState } | undefined): void {
  if (conn && conn.state.kind !== "internal") {
    throw forbidden("This action is internal to the chat server.");
  }
}

/**
 * Whether `user` is an admin of their organisation, read from SQL (the token does not carry the
 * role, so a demoted or removed admin loses it at once). A database that cannot answer is a
 * clear refusal, never a guess.
 */
export async function isOrgAdmin(db: Db, user: User): Promise<boolean> {
  let rows: { role: string }[];
  try {
    rows = await db
      .select({ role: accounts.role })
      .from(accounts)
      .innerJoin(organisations, eq(organisations.id, accounts.orgId))
      .where(
        and(eq(accounts.id, user.id), eq(organisations.slug, user.org), isNull(accounts.removedAt)),
      )
      .limit(1);
  } catch {
    throw new UserError(
      "Could not check your role just now (the database is unreachable). Try again in a moment.",
      { code: "unavailable" },
    );
  }
  return rows[0]?.role === "admin";
}
