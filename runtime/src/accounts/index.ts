/**
 * `troupe/accounts`: sign-in for the apps built on Troupe, in one place instead of a copy per
 * template. Organisations with invite links, accounts with scrypt passwords, a sign-in throttle,
 * short-lived HS256 tokens tied to bounded, revocable sessions, and the Hono routes over them.
 *
 * Only this sub-export imports `jose`, `zod` and `drizzle-orm`: the core `troupe` entry stays
 * free of them.
 *
 * @example
 * import { Accounts, Auth, mountAccountRoutes, SESSION_MAX_LIFETIME_SECONDS, SessionRevocations } from "troupe/accounts";
 *
 * const revocations = new SessionRevocations(SESSION_MAX_LIFETIME_SECONDS * 1000);
 * await revocations.load(db);
 * const auth = new Auth({ secret: resolveAuthSecret(process.env, undefined, "my-app"), revocations });
 * mountAccountRoutes(app, { accounts: new Accounts({ db, auth }), auth });
 * // in an actor: createConnState: async (c, params) => ({ user: await auth.verify(params?.token) })
 */
export {
  Accounts,
  type AccountsOptions,
  INVITE_TTL_SECONDS,
  type Invite,
  type MemberInfo,
  type Role,
  SESSION_IDLE_SECONDS,
  SESSION_MAX_LIFETIME_SECONDS,
  type SignedIn,
  sessionEnd,
} from "./accounts.js";
export {
  Auth,
  type AuthOptions,
  bearerToken,
  orgSlug,
  revokedError,
  TOKEN_TTL_SECONDS,
  type TokenClaims,
  type User,
} from "./auth.js";
export {
  armTokenExpiry,
  clearAllTokenExpiries,
  clearTokenExpiry,
  followSession,
  type TokenTimers,
  tokenSessionOf,
  unfollowSession,
  unwatchConnection,
  type WatchedConn,
  watchConnection,
} from "./connections.js";
export { type AccountsDb, type AccountsTx, inTransaction } from "./db.js";
export {
  DEFAULT_SCRYPT,
  dummyHash,
  hashParams,
  hashPassword,
  passwordSchema,
  type ScryptParams,
  verifyPassword,
} from "./password.js";
export {
  type CloseConnection,
  type RevocationReason,
  SessionRevocations,
} from "./revocations.js";
export {
  ACCOUNT_ERROR_STATUS,
  type AccountRoutesOptions,
  clientAddress,
  mountAccountRoutes,
} from "./routes.js";
export { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, slugify } from "./rules.js";
export {
  type AccountRow,
  accounts,
  type InviteRow,
  invites,
  organisations,
  sessions,
} from "./schema.js";
export { AttemptThrottle, type AttemptThrottleOptions } from "./throttle.js";
export { parseBody, withoutNul } from "./validation.js";
