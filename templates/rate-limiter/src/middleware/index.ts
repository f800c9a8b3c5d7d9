/**
 * Hono middleware for an API behind the limiter: `apiKey()` checks the caller's API key,
 * `rateLimit()` decides on the request. Exported for any Hono app running a `Limiter`.
 *
 * - `apiKey({ limiter })`: `Authorization: Bearer <key>` or `X-API-Key: <key>`. Refuses with
 *   401 and a distinct code: `missing_api_key`, `malformed_api_key`, `unknown_api_key`,
 *   `revoked_api_key`. Sets `c.var.apiKey` (tenant, key id, the rules that fail closed). A key
 *   that cannot be checked within `budgetMs` (default 2 s) gets 503 `limiter_unavailable`.
 * - `rateLimit({ limiter, key, cost, rule })`: asks the key's shard; an allowed response carries
 *   `RateLimit-Policy` and `RateLimit` (the most restrictive rule that applied); a refused one
 *   is 429 with those, `Retry-After` and `{ code: "rate_limited" }`. A cost larger than a rule's
 *   whole capacity is 400 `cost_exceeds_limit` (waiting would not help). If the limiter does not
 *   answer within `budgetMs` (default 20 ms), the request goes through (fail open) or gets 503
 *   `limiter_unavailable` (fail closed), as the matching rules say (closed if any says so).
 *
 * - `apiKeyRateLimit({ limiter, cost, rule })`: `apiKey()` and then `rateLimit()` (limiting the
 *   API key) in one middleware and, once the key's id is known to the `Limiter`, in one actor
 *   call: the key's shard checks the key (against the same copy of the tenant's keys the
 *   coordinator pushes it with every change, so a revocation reaches it as fast) and decides.
 *   Same answers as the pair. If the shard does not answer within `budgetMs`, the key is checked
 *   by the coordinator (within `authBudgetMs` in all) before the fail mode applies: a key nobody
 *   checked never gets through.
 *
 * @example
 * const app = new Hono();
 * app.use("/v1/*", apiKeyRateLimit({ limiter }));
 * // The same in two steps (two actor calls per request):
 * app.use("/v1/*", apiKey({ limiter }), rateLimit({ limiter }));
 * app.get("/v1/quotes", (c) => c.json(randomQuote()));
 *
 * // Or limit something else than the API key, at a cost:
 * app.post("/v1/batch", rateLimit({
 *   limiter,
 *   key: (c) => ({ tenant: "public", key: clientAddress(c) }),
 *   cost: async (c) => (await c.req.json()).items.length,
 * }));
 */
import type { Context, MiddlewareHandler } from "hono";
import { parseApiKey } from "../limiter/api-keys.js";
import type { Authentication, Limiter } from "../limiter/limiter.js";
import { type Rule, ruleMatches } from "../limiter/rules.js";
import type { PolicyStatus, Verdict } from "../limiter/verdict.js";
import { policyHeader, rateLimitHeader, retryAfterSeconds } from "./headers.js";

/** How long a request waits for the limiter before its rule's fail mode applies. */
export const DEFAULT_BUDGET_MS = 20;
/**
 * How long `apiKey()` waits for the key check. Longer: a key that could not be checked is
 * refused (503), never let through, and a tenant's coordinator waking from sleep loads the
 * tenant from SQL first.
 */
export const DEFAULT_AUTH_BUDGET_MS = 2000;

export interface ApiKeyInfo {
  tenantId: string;
  keyId: string;
  /** The tenant's rules that fail closed (the others fail open). */
  failClosed: Pick<Rule, "id" | "match">[];
}

export type RateLimitEnv = { Variables: { apiKey: ApiKeyInfo } };

const KEY_MESSAGES = {
  missing_api_key: "Send your API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
  malformed_api_key:
    "That is not an API key of this service (they look like rl_<tenant>_<secret>).",
  unknown_api_key: "This API key does not exist. Check it, or create one in the dashboard.",
  revoked_api_key: "This API key was revoked. Create a new one in the dashboard.",
} as const;

export function apiKey(opts: {
  limiter: Limiter;
  budgetMs?: number;
}): MiddlewareHandler<RateLimitEnv> {
  const budgetMs = opts.budgetMs ?? DEFAULT_AUTH_BUDGET_MS;
  return async (c, next) => {
    const auth = await authenticate(opts.limiter, parseApiKey(rawKey(c)), budgetMs);
    if (!auth) return unavailable(c);
    if (!auth.ok) return refuseKey(c, auth.code);
    c.set("apiKey", { tenantId: auth.tenantId, keyId: auth.keyId, failClosed: auth.failClosed });
    await next();
  };
}

const BEARER = /^bearer /i;

/** The API key as sent: `Authorization: Bearer <key>`, else `X-API-Key`. */
function rawKey(c: Context): string | undefined {
  const bearer = c.req.header("authorization");
  return bearer !== undefined && BEARER.test(bearer)
    ? bearer.slice("bearer ".length)
    : (c.req.header("x-api-key") ?? bearer);
}

/** The coordinator's answer on a key, or undefined if there is none within `ms`. */
async function authenticate(
  limiter: Limiter,
  parsed: ReturnType<typeof parseApiKey>,
  ms: number,
): Promise<Authentication | undefined> {
  if (!parsed.ok) return parsed;
  try {
    return await within(limiter.authenticateParsed(parsed), ms);
  } catch {
    return undefined;
  }
}

function refuseKey(c: Context, code: keyof typeof KEY_MESSAGES) {
  c.header("WWW-Authenticate", 'Bearer realm="api"');
  return c.json({ code, message: KEY_MESSAGES[code] }, 401);
}

export interface RateLimitOptions<E extends RateLimitEnv = RateLimitEnv> {
  limiter: Limiter;
  /** Whose limit: default the API key that `apiKey()` checked (its tenant, its key id). */
  key?: (
    c: Context<E>,
  ) => { tenant: string; key: string } | Promise<{ tenant: string; key: string }>;
  /** What this request costs; default each rule's own `cost`. */
  cost?: number | ((c: Context<E>) => number | Promise<number>);
  /** Apply only this rule (by id); default every rule of the plan matching the route. */
  rule?: string;
  budgetMs?: number;
  /** The fail mode when the tenant's rules are not known (no `apiKey()` before): default open. */
  failMode?: "open" | "closed";
}

export function rateLimit<E extends RateLimitEnv = RateLimitEnv>(
  opts: RateLimitOptions<E>,
): MiddlewareHandler<E> {
  const budgetMs = opts.budgetMs ?? DEFAULT_BUDGET_MS;
  return async (c, next) => {
    const who = opts.key
      ? await opts.key(c)
      : fromApiKey(c.get("apiKey") as ApiKeyInfo | undefined);
    const cost = typeof opts.cost === "function" ? await opts.cost(c) : opts.cost;
    if (!validCost(cost)) return invalidCost(c);
    const method = c.req.method;
    const path = c.req.path;
    let verdict: Verdict | undefined;
    try {
      verdict = await within(
        opts.limiter.check(who.tenant, { key: who.key, method, path, cost, ruleId: opts.rule }),
        budgetMs,
      );
    } catch {
      verdict = undefined;
    }
    if (!verdict) {
      const failClosed = (c.get("apiKey") as ApiKeyInfo | undefined)?.failClosed;
      const closed = failClosed
        ? closedFor(failClosed, opts.rule, method, path)
        : opts.failMode === "closed";
      if (closed) return unavailable(c);
      await next();
      return;
    }
    return answer(c, next, verdict, cost, opts.rule);
  };
}

export interface ApiKeyRateLimitOptions<E extends RateLimitEnv = RateLimitEnv> {
  limiter: Limiter;
  /**
   * What this request costs; default each rule's own `cost`. A function runs before the key is
   * checked (`c.var.apiKey` is not set yet).
   */
  cost?: number | ((c: Context<E>) => number | Promise<number>);
  /** Apply only this rule (by id); default every rule of the plan matching the route. */
  rule?: string;
  /** How long the decision may take before the rule's fail mode applies (default 20 ms). */
  budgetMs?: number;
  /** How long checking the key may take in all before a 503 (default 2 s): see `apiKey()`. */
  authBudgetMs?: number;
}

/**
 * `apiKey()` + `rateLimit()` (limiting the API key) with one actor call per request once the
 * `Limiter` knows the key's id: see the top of this file.
 */
export function apiKeyRateLimit<E extends RateLimitEnv = RateLimitEnv>(
  opts: ApiKeyRateLimitOptions<E>,
): MiddlewareHandler<E> {
  const { limiter, rule } = opts;
  const budgetMs = opts.budgetMs ?? DEFAULT_BUDGET_MS;
  const authBudgetMs = Math.max(opts.authBudgetMs ?? DEFAULT_AUTH_BUDGET_MS, budgetMs);
  return async (c, next) => {
    const parsed = parseApiKey(rawKey(c));
    if (!parsed.ok) return refuseKey(c, parsed.code);
    const cost = typeof opts.cost === "function" ? await opts.cost(c) : opts.cost;
    if (!validCost(cost)) return invalidCost(c);
    const method = c.req.method;
    const path = c.req.path;
    const known = limiter.knownKey(parsed.hash);
    if (known) {
      // One call: the key's shard checks the key, then decides.
      let verdict: Verdict | undefined;
      try {
        verdict = await within(
          limiter.check(known.tenantId, {
            key: known.keyId,
            method,
            path,
            cost,
            ruleId: rule,
            keyHash: parsed.hash,
          }),
          budgetMs,
        );
      } catch {
        verdict = undefined;
      }
      if (verdict?.code === "revoked_api_key") {
        limiter.forgetKey(parsed.hash);
        return refuseKey(c, "revoked_api_key");
      }
      if (verdict && verdict.code !== "unknown_api_key") {
        c.set("apiKey", known);
        return answer(c, next, verdict, cost, rule);
      }
      if (!verdict) {
        // No answer in time, so nobody checked the key: the coordinator does, then the fail mode.
        const auth = await authenticate(limiter, parsed, authBudgetMs - budgetMs);
        if (!auth) return unavailable(c);
        if (!auth.ok) return refuseKey(c, auth.code);
        c.set("apiKey", infoOf(auth));
        if (closedFor(auth.failClosed, rule, method, path)) return unavailable(c);
        await next();
        return;
      }
      // Unknown to the shard: its copy of the keys may lag the coordinator's by a push (a key
      // created elsewhere a moment ago). The coordinator has the last word, as for a new key.
      limiter.forgetKey(parsed.hash);
    }
    // The key's id is not known yet: the coordinator checks the key, then the shard decides.
    const auth = await authenticate(limiter, parsed, authBudgetMs);
    if (!auth) return unavailable(c);
    if (!auth.ok) return refuseKey(c, auth.code);
    c.set("apiKey", infoOf(auth));
    let verdict: Verdict | undefined;
    try {
      verdict = await within(
        limiter.check(auth.tenantId, { key: auth.keyId, method, path, cost, ruleId: rule }),
        budgetMs,
      );
    } catch {
      verdict = undefined;
    }
    if (!verdict) {
      if (closedFor(auth.failClosed, rule, method, path)) return unavailable(c);
      await next();
      return;
    }
    return answer(c, next, verdict, cost, rule);
  };
}

function infoOf(k: Extract<Authentication, { ok: true }>): ApiKeyInfo {
  return { tenantId: k.tenantId, keyId: k.keyId, failClosed: k.failClosed };
}

/** Whether a request that got no verdict is refused (503): a fail-closed rule applies to it. */
function closedFor(
  failClosed: ApiKeyInfo["failClosed"],
  rule: string | undefined,
  method: string,
  path: string,
): boolean {
  return failClosed.some((r) => (rule ? r.id === rule : ruleMatches(r, method, path)));
}

function validCost(cost: number | undefined): boolean {
  return cost === undefined || (Number.isSafeInteger(cost) && cost >= 1);
}

function invalidCost(c: Context) {
  return c.json(
    { code: "invalid_cost", message: "A request's cost must be a whole number ≥ 1." },
    400,
  );
}

/** The response to a request the limiter decided on: the handler's, a 429, or a 400 / 500. */
function answer(
  c: Context,
  next: () => Promise<void>,
  verdict: Verdict,
  cost: number | undefined,
  rule: string | undefined,
): Promise<void> | Response {
  return verdict.allowed ? allow(c, next, verdict.policy) : refuse(c, verdict, cost, rule);
}

/** The handler's response, with the RateLimit headers of the rule that applied. */
function allow(
  c: Context,
  next: () => Promise<void>,
  policy: PolicyStatus | undefined,
): Promise<void> {
  if (!policy) return next();
  // On Node (@hono/node-server), straight onto the outgoing message before the handler runs:
  // Node merges them into whatever response the handler (or the error handler) produces, which
  // keeps that response's plain headers (a `Headers` object built and copied per response
  // cost about as much server CPU as the rest of the limiter's work on a request).
  const outgoing = nodeOutgoing(c);
  if (outgoing) {
    outgoing.setHeader("RateLimit-Policy", policyHeader(policy));
    outgoing.setHeader("RateLimit", rateLimitHeader(policy));
    return next();
  }
  // Elsewhere on the response the handler (or the error handler) produced, however built.
  return next().then(() => {
    const headers = c.res.headers;
    headers.set("RateLimit-Policy", policyHeader(policy));
    headers.set("RateLimit", rateLimitHeader(policy));
  });
}

/** A refused request's response: 429 with `Retry-After`, or 400 / 500 (see `rateLimit()`). */
function refuse(
  c: Context,
  verdict: Verdict,
  cost: number | undefined,
  rule: string | undefined,
): Response {
  if (verdict.policy) {
    c.header("RateLimit-Policy", policyHeader(verdict.policy));
    c.header("RateLimit", rateLimitHeader(verdict.policy));
  }
  if (verdict.code === "cost_exceeds_limit") {
    return c.json(
      {
        code: "cost_exceeds_limit",
        message: `This request costs ${cost ?? "more"} units, more than the limit allows at once (${verdict.policy?.limit}). Split it.`,
      },
      400,
    );
  }
  if (verdict.code === "unknown_rule") {
    return c.json({ code: "unknown_rule", message: `No rule "${rule}" in this plan.` }, 500);
  }
  const seconds = retryAfterSeconds(verdict.retryAfterMs);
  c.header("Retry-After", String(seconds));
  return c.json(
    {
      code: "rate_limited",
      reason: verdict.code,
      message:
        verdict.code === "tenant_limit_reached"
          ? `Your organisation's limit across all keys is reached; retry in ${seconds} s.`
          : `Too many requests; retry in ${seconds} s.`,
      retryAfterSeconds: seconds,
    },
    429,
  );
}

/** Node's response for this request (@hono/node-server's `c.env.outgoing`), while unsent. */
function nodeOutgoing(c: Context): NodeOutgoing | undefined {
  const outgoing = (c.env as { outgoing?: NodeOutgoing } | undefined)?.outgoing;
  return outgoing && typeof outgoing.setHeader === "function" && !outgoing.headersSent
    ? outgoing
    : undefined;
}

interface NodeOutgoing {
  headersSent: boolean;
  setHeader(name: string, value: string): unknown;
}

function fromApiKey(info: ApiKeyInfo | undefined): { tenant: string; key: string } {
  if (!info) {
    throw new Error("rateLimit(): no `key` option and no API key: put apiKey() before it.");
  }
  return { tenant: info.tenantId, key: info.keyId };
}

function unavailable(c: Context) {
  c.header("Retry-After", "1");
  return c.json(
    {
      code: "limiter_unavailable",
      message: "The rate limiter did not answer in time; retry shortly.",
    },
    503,
  );
}

/**
 * `p`, or undefined if it has not settled within `ms` (its later result is dropped; a rejection
 * counts as undefined too).
 *
 * Deadlines of one length expire in the order they were set, so they share a queue and one
 * timer (set for the oldest pending one) instead of a timer per request.
 */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let queue = deadlines.get(ms);
  if (!queue) deadlines.set(ms, (queue = new DeadlineQueue(ms)));
  return queue.race(p);
}

const deadlines = new Map<number, DeadlineQueue>();

interface Deadline {
  at: number;
  settle(v: unknown): void;
  settled: boolean;
}

class DeadlineQueue {
  /** Pending deadlines from `head` on, oldest first (settled ones are skipped). */
  private entries: Deadline[] = [];
  private head = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly ms: number) {}

  race<T>(p: Promise<T>): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve) => {
      const entry: Deadline = { at: performance.now() + this.ms, settle: resolve, settled: false };
      this.entries.push(entry);
      // Inline closures (no named ones per call: under tsx each would be named at creation).
      p.then(
        (v) => this.answered(entry, v),
        () => this.answered(entry, undefined),
      );
      if (!this.timer) this.arm(this.ms);
    });
  }

  private answered(entry: Deadline, v: unknown): void {
    if (entry.settled) return;
    entry.settled = true;
    entry.settle(v);
    this.trim();
  }

  /** Drops the settled entries at the front; with none pending left, the timer goes too. */
  private trim(): void {
    const entries = this.entries;
    while (this.head < entries.length && entries[this.head]!.settled) this.head++;
    if (this.head === entries.length) {
      this.entries = [];
      this.head = 0;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
    } else if (this.head > 1024 && this.head * 2 > entries.length) {
      this.entries = entries.slice(this.head);
      this.head = 0;
    }
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => this.expire(), Math.max(0, Math.ceil(delay)));
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.settled) continue;
      if (e.at > now) break;
      e.settled = true;
      e.settle(undefined);
    }
    this.trim();
    if (this.entries.length > 0 && !this.timer) {
      this.arm(this.entries[this.head]!.at - now);
    }
  }
}
