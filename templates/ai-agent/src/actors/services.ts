/**
 * What the actors need from the app around them: the sign-in's `Auth` (tokens of
 * `troupe/accounts`), the database, the model and tunables. The registry is built from these
 * (`createRegistry(services)`) instead of globals, so tests run several apps side by side and
 * shrink the tunables.
 */
import { randomBytes } from "node:crypto";
import type { LanguageModelV3 } from "@ai-sdk/provider";
import { Forbidden } from "troupe";
import type { Auth } from "troupe/accounts";
import type { Db } from "../db/index.js";
import type { ToolHost } from "../tools/index.js";

/** Who a connection belongs to, from its verified token. */
export interface Identity {
  userId: string;
  displayName: string;
}

/** Longest prompt, in characters. */
export const MAX_PROMPT_CHARS = 8000;
/** Tokens (input + output) one user may spend per UTC day, over all conversations. */
export const DAILY_TOKEN_BUDGET = 200_000;
/** The streaming text is copied into durable state at most this often. */
export const SAVE_INTERVAL_MS = 250;
/**
 * Milliseconds of streaming work (model parts through the SDK, the actor and the sockets) the
 * event loop does between two reads of its sockets when many answers stream at once
 * (`TurnBudget`, turns.ts): the longest a Stop waits to be read behind other streams' tokens.
 * 2 ms measured best (issue 12's bench, 200 streams behind the model): against 4 ms it halved
 * Stop's p50 and cut its p99 by a third for the same throughput; 1 ms lost throughput and tail.
 */
export const TURN_BUDGET_MS = 2;
/** Model steps (calls) in one generation: tool call, then answer, … */
export const MAX_STEPS = 5;
/**
 * An answer whose model sends nothing for this long ends as "error" (a provider that hangs
 * mid-answer). Long enough for a slow first token and for a tool call (no stream parts arrive
 * while a tool runs).
 */
export const MODEL_STALL_TIMEOUT_MS = 60_000;
/** Most messages a conversation keeps in its state (older ones stay in SQL). */
export const MAX_MESSAGES_IN_STATE = 500;
/** Most reminders waiting at once in one conversation. */
export const MAX_PENDING_REMINDERS = 50;
/**
 * After a Stop, how long the answer's end waits for a tool still running to give up (it checks
 * the signal before each change and rolls back: milliseconds). Only a database that stopped
 * answering makes it longer; past this the answer ends anyway, and the tool still commits
 * nothing once it is stopped.
 */
export const TOOL_STOP_WAIT_MS = 2000;

export interface AgentServices {
  /** Verifies tokens (throws `Unauthorized` with a code) and knows revoked sessions. */
  auth: Auth;
  db: Db;
  /** The model every conversation uses (the stand-in, or a configured provider). */
  model: LanguageModelV3;
  /** A sentence naming the model, shown to users (e.g. "offline stand-in model"). */
  modelLabel: string;
  dailyTokenBudget?: number;
  saveIntervalMs?: number;
  maxPromptChars?: number;
  stallTimeoutMs?: number;
  /** `TURN_BUDGET_MS`; 0 lets every part through at once (no slices). */
  turnBudgetMs?: number;
  /** Tests only: holds a tool right before its change becomes permanent (`ToolHost`). */
  beforeToolCommit?: ToolHost["beforeCommit"];
}

export interface AgentConnParams {
  token?: string;
  internal?: string;
}

/**
 * `expiresAt` (ms) is the token's `exp` and `sessionId` its session: `watchConnection` of
 * troupe/accounts closes the connection then (the client comes back with a fresh token), or at
 * once when the session is revoked.
 */
export type AgentConnState =
  | { kind: "user"; user: Identity; sessionId: string; expiresAt: number }
  | { kind: "internal" };

/** The user of a token (throws `Unauthorized`). */
export async function verifyToken(services: AgentServices, token: unknown): Promise<Identity> {
  const user = await services.auth.verify(token);
  return { userId: user.id, displayName: user.name };
}

export function createInternalKey(): string {
  return randomBytes(32).toString("hex");
}

/** The internal key, or a verified token whose user owns this key (`key[0]`). */
export async function connStateOf(
  services: AgentServices,
  internalKey: string,
  params: AgentConnParams | undefined,
  key: readonly string[],
): Promise<AgentConnState> {
  if (params?.internal !== undefined) {
    if (params.internal !== internalKey) throw new Forbidden("Not an internal caller.");
    return { kind: "internal" };
  }
  const claims = await services.auth.verifyClaims(params?.token);
  const user = { userId: claims.user.id, displayName: claims.user.name };
  assertOwner(key, user);
  return { kind: "user", user, sessionId: claims.sessionId, expiresAt: claims.expiresAt };
}

export function assertOwner(key: readonly string[], user: Identity): void {
  if (key[0] !== user.userId) throw new Forbidden("These conversations belong to someone else.");
}

export function userOf(conn: { state: AgentConnState } | undefined): Identity {
  if (conn?.state.kind !== "user") throw new Forbidden("This action needs a signed-in user.");
  return conn.state.user;
}

/** Actions for alarms and sibling actors only (an alarm has no connection). */
export function assertInternal(conn: { state: AgentConnState } | undefined): void {
  if (conn && conn.state.kind !== "internal") {
    throw new Forbidden("This action is internal to the agent server.");
  }
}

/** Today's UTC day, `YYYY-MM-DD`: the unit of the token budget. */
export function utcDay(now = Date.now()): string {
  return new Date(now).toISOString().slice(0, 10);
}
