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
  | "unknown_rule";

export interface Verdict {
  allowed: boolean;
  code?: RefusalCode;
  /** Absent when no rule matched (nothing to report). */
  policy?: PolicyStatus;
  retryAfterMs: number;
}
