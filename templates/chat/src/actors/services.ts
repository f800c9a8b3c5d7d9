/**
 * What the actors need from the app around them: token checks, the database and tunables.
 * The registry is built from these (`createRegistry(services)`) instead of importing globals, so
 * a test can run several independent apps (each with its own database) in one process.
 */
import { randomBytes } from "node:crypto";
import { UserError } from "troupe";
import type { Auth, User } from "../auth.js";
import type { Db } from "../db/index.js";

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
}

/** Connection parameters: a user token, or the in-process key of actor-to-actor calls. */
export interface ChatConnParams {
  token?: string;
  internal?: string;
}

/** `expiresAt` (ms) is the token's `exp`: the connection is closed then (token-expiry.ts). */
export type ChatConnState = { kind: "user"; user: User; expiresAt: number } | { kind: "internal" };

/**
 * A random key for calls between actors of this process (`c.client()` with
 * `params: { internal }`). It never leaves the process, so a client cannot present it.
 */
export function createInternalKey(): string {
  return randomBytes(32).toString("hex");
}

export function forbidden(message: string): UserError {
  return new UserError(message, { code: "forbidden" });
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
