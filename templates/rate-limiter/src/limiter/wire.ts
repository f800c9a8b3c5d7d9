/**
 * How a batch of checks travels between the `Limiter` and a shard actor: one flat array each
 * way, each policy once per batch instead of once per verdict. The runtime copies every
 * in-process action's arguments and result as JSON would (wire semantics), value by value and
 * array by array; for small, frequent decisions that copy was one of the largest costs, and a
 * flat array is the cheapest shape to copy (no nested arrays, no object keys).
 */
import type { CheckRequest, PolicyStatus, RefusalCode, Verdict } from "./verdict.js";

/**
 * A batch of requests, `REQUEST_FIELDS` entries per request, one after another: key, method,
 * path, cost (0: each rule's own), ruleId ("": every matching rule), keyHash ("": no API key
 * to check).
 */
export type WireRequests = (string | number)[];
export const REQUEST_FIELDS = 6;

/**
 * A batch's verdicts: the number of policies P, then P policies of `POLICY_FIELDS` entries (id,
 * limit, windowSeconds), then `VERDICT_FIELDS` entries per verdict: allowed (1 | 0), code (""
 * when allowed), policy index (-1: none), remaining, resetSeconds, retryAfterMs.
 */
export type WireVerdicts = (string | number)[];
export const POLICY_FIELDS = 3;
export const VERDICT_FIELDS = 6;

export function encodeRequests(reqs: readonly CheckRequest[]): WireRequests {
  const out: WireRequests = new Array(reqs.length * REQUEST_FIELDS);
  for (let i = 0, o = 0; i < reqs.length; i++, o += REQUEST_FIELDS) {
    const req = reqs[i]!;
    out[o] = req.key;
    out[o + 1] = req.method;
    out[o + 2] = req.path;
    out[o + 3] = req.cost ?? 0;
    out[o + 4] = req.ruleId ?? "";
    out[o + 5] = req.keyHash ?? "";
  }
  return out;
}

/** How many requests a batch holds. */
export function requestCount(w: WireRequests): number {
  return Math.floor(w.length / REQUEST_FIELDS);
}

/** Request `i` of a batch. */
export function decodeRequest(w: WireRequests, i: number): CheckRequest {
  const o = i * REQUEST_FIELDS;
  const cost = w[o + 3] as number;
  const ruleId = w[o + 4] as string;
  const keyHash = w[o + 5] as string;
  return {
    key: w[o] as string,
    method: w[o + 1] as string,
    path: w[o + 2] as string,
    cost: cost > 0 ? cost : undefined,
    ruleId: ruleId === "" ? undefined : ruleId,
    keyHash: keyHash === "" ? undefined : keyHash,
  };
}

/** Collects verdicts into their wire form, one policy entry per distinct policy. */
export class VerdictEncoder {
  /** POLICY_FIELDS entries per policy. */
  private readonly policies: (string | number)[] = [];
  private readonly verdicts: (string | number)[] = [];

  push(v: Verdict): void {
    let policy = -1;
    const p = v.policy;
    if (p) {
      // A batch names a handful of policies at most: a scan beats a map made per batch. A policy
      // with that id but other figures (changed within the batch) gets an entry of its own.
      const known = this.policies;
      for (let o = known.length - POLICY_FIELDS; o >= 0; o -= POLICY_FIELDS) {
        if (known[o] === p.id && known[o + 1] === p.limit && known[o + 2] === p.windowSeconds) {
          policy = o / POLICY_FIELDS;
          break;
        }
      }
      if (policy < 0) {
        policy = known.length / POLICY_FIELDS;
        known.push(p.id, p.limit, p.windowSeconds);
      }
    }
    this.verdicts.push(
      v.allowed ? 1 : 0,
      v.code ?? "",
      policy,
      p?.remaining ?? 0,
      p?.resetSeconds ?? 0,
      v.retryAfterMs,
    );
  }

  get result(): WireVerdicts {
    const { policies, verdicts } = this;
    const out: WireVerdicts = new Array(1 + policies.length + verdicts.length);
    out[0] = policies.length / POLICY_FIELDS;
    for (let i = 0; i < policies.length; i++) out[1 + i] = policies[i]!;
    const base = 1 + policies.length;
    for (let i = 0; i < verdicts.length; i++) out[base + i] = verdicts[i]!;
    return out;
  }
}

/** Verdict `i` of a batch. */
export function decodeVerdict(batch: WireVerdicts, i: number): Verdict {
  const policies = batch[0] as number;
  const o = 1 + policies * POLICY_FIELDS + i * VERDICT_FIELDS;
  const code = batch[o + 1] as string;
  const policy = batch[o + 2] as number;
  const verdict: Verdict = { allowed: batch[o] === 1, retryAfterMs: batch[o + 5] as number };
  if (code !== "") verdict.code = code as RefusalCode;
  if (policy >= 0) {
    const p = 1 + policy * POLICY_FIELDS;
    const status: PolicyStatus = {
      id: batch[p] as string,
      limit: batch[p + 1] as number,
      windowSeconds: batch[p + 2] as number,
      remaining: batch[o + 3] as number,
      resetSeconds: batch[o + 4] as number,
    };
    verdict.policy = status;
  }
  return verdict;
}
