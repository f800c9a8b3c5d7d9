/**
 * What a rule is and how one is checked before it is saved. A rule says which requests it covers
 * (`match`: a route pattern and a method), how they are counted (`algorithm` with its limit and
 * window, or rate and burst), what one request costs by default, and what to do when the limiter
 * cannot answer in time (`failMode`).
 *
 * @example
 * const rule = parseRule({
 *   id: "search",
 *   match: { route: "/v1/search", method: "GET" },
 *   algorithm: "sliding-window",
 *   limit: 100,
 *   windowMs: 60_000,
 * });
 */
import { z } from "zod";

/** The shortest window a rule may have: below this, timers and clocks dominate the count. */
export const MIN_WINDOW_MS = 100;
/** The longest window (one week): a longer one is almost certainly a unit mistake. */
export const MAX_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
/** Largest limit, burst or cost: beyond this, counts lose precision in a double. */
export const MAX_LIMIT = 1_000_000_000;
/** Token-bucket refill rates, in tokens per second. */
export const MIN_RATE = 0.001;
export const MAX_RATE = 1_000_000;

const positiveInt = (what: string) =>
  z
    .number({ error: `${what} must be a number.` })
    .int({ error: `${what} must be a whole number.` })
    .min(1, { error: `${what} must be at least 1.` })
    .max(MAX_LIMIT, { error: `${what} must be at most ${MAX_LIMIT}.` });

const windowMs = z
  .number({ error: "windowMs must be a number of milliseconds." })
  .int({ error: "windowMs must be a whole number of milliseconds." })
  .min(MIN_WINDOW_MS, { error: `windowMs must be at least ${MIN_WINDOW_MS} ms.` })
  .max(MAX_WINDOW_MS, { error: `windowMs must be at most ${MAX_WINDOW_MS} ms (one week).` });

export const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "*"] as const;

const match = z.object({
  /** A path (`/v1/quotes`), or a prefix ending in `*` (`/v1/*`), or `*` for every route. */
  route: z
    .string()
    .min(1)
    .max(200)
    .regex(/^(\*|\/[A-Za-z0-9._~/:-]*\*?)$/, {
      error:
        "route must be *, or a path starting with / (letters, digits, ._~-:/), optionally ending in *.",
    }),
  method: z.enum(METHODS).default("*"),
});

const common = {
  id: z
    .string()
    .min(1)
    .max(64)
    // No colon: shards key counters by `<ruleId>:<key>`.
    .regex(/^[a-z0-9][a-z0-9_-]*$/, { error: "id must be lowercase letters, digits, - and _." }),
  match,
  /** What one request costs unless the middleware says otherwise. */
  cost: positiveInt("cost").default(1),
  /** When the limiter does not answer within the budget: let the request through, or refuse it. */
  failMode: z.enum(["open", "closed"]).default("open"),
};

export const ruleSchema = z.discriminatedUnion("algorithm", [
  z.object({
    ...common,
    algorithm: z.literal("token-bucket"),
    /** Tokens added per second. */
    rate: z
      .number()
      .min(MIN_RATE, { error: `rate must be at least ${MIN_RATE} tokens per second.` })
      .max(MAX_RATE, { error: `rate must be at most ${MAX_RATE} tokens per second.` }),
    /** Bucket size: the most a key can spend at once. */
    burst: positiveInt("burst"),
  }),
  z.object({
    ...common,
    algorithm: z.literal("sliding-window"),
    limit: positiveInt("limit"),
    windowMs,
  }),
  z.object({
    ...common,
    algorithm: z.literal("fixed-window"),
    limit: positiveInt("limit"),
    windowMs,
  }),
]);

export type Rule = z.infer<typeof ruleSchema>;
export type RuleInput = z.input<typeof ruleSchema>;
export type Algorithm = Rule["algorithm"];

/** A rule checked and with its defaults filled in; throws a `RuleError` naming the first problem. */
export function parseRule(input: unknown): Rule {
  const parsed = ruleSchema.safeParse(input);
  if (!parsed.success) throw new RuleError(describeIssues(parsed.error));
  return parsed.data;
}

export class RuleError extends Error {
  readonly code = "invalid_rule";
}

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** The most one request may cost under this rule: a larger cost can never be allowed. */
export function capacityOf(rule: Rule): number {
  return rule.algorithm === "token-bucket" ? rule.burst : rule.limit;
}

/** The window advertised in `RateLimit-Policy` (`w`, seconds): for a bucket, a full refill. */
export function windowSecondsOf(rule: Rule): number {
  const ms = rule.algorithm === "token-bucket" ? (rule.burst / rule.rate) * 1000 : rule.windowMs;
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Whether `rule` covers a request to `path` with `method`. */
export function ruleMatches(rule: Pick<Rule, "match">, method: string, path: string): boolean {
  if (rule.match.method !== "*" && rule.match.method !== method.toUpperCase()) return false;
  const route = rule.match.route;
  if (route === "*") return true;
  if (route.endsWith("*")) return path.startsWith(route.slice(0, -1));
  return path === route;
}
