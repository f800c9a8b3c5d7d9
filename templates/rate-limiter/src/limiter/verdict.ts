/**
 * What a caller asks the limiter and what it answers: the shapes that travel between the
 * middleware, the `Limiter` and the shard actors.
 */

/** One request to decide on. */
export interface CheckRequest {
  /** The limited key (an API key id, a user id, an address), already one string. */
  key: string;
  method: string;
  path: string;
  /** Overrides the matching rules' own cost. */
  cost?: number;
  /** Apply only this rule (by id) instead of every rule that matches the route. */
  ruleId?: string;
  /**
   * The SHA-256 (hex) of the API key the request came with, when `key` is that API key's id:
   * the shard then checks the key as well (known to the tenant, not revoked, with that id)
   * before it decides, so that one call does both (`apiKeyRateLimit()`).
   */
  keyHash?: string;
}

/** The rule a verdict reports in its headers: the most restrictive one that applied. */
export interface PolicyStatus {
  id: string;
  limit: number;
  windowSeconds: number;
  remaining: number;
  resetSeconds: number;
}

export type RefusalCode =
  /** A rule's limit is reached; retry after `retryAfterMs`. */
  | "rate_limited"
  /** The request costs more than a rule's whole capacity: it can never be allowed. */
  | "cost_exceeds_limit"
  /** The tenant's aggregate limit across all its keys is reached. */
  | "tenant_limit_reached"
  /** `ruleId` names no rule of the tenant's plan. */
  | "unknown_rule"
  /**
   * `keyHash` is not (or no longer, or not with this `key` as its id) one of the tenant's API
   * keys, as far as the shard knows: nothing was decided. The shard's copy of the keys may lag
   * the coordinator's by a push, so the caller asks the coordinator before refusing.
   */
  | "unknown_api_key"
  /** `keyHash` is a revoked API key of the tenant: nothing was decided. */
  | "revoked_api_key";

export interface Verdict {
  allowed: boolean;
  code?: RefusalCode;
  /** Absent when no rule matched (nothing to report). */
  policy?: PolicyStatus;
  retryAfterMs: number;
}
