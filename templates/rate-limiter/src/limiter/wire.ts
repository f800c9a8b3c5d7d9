/**
 * How a batch of checks travels between the `Limiter` and a shard actor: flat tuples instead of
 * objects, and each policy once per batch instead of once per verdict. The runtime copies every
 * in-process action's arguments and result through JSON (wire semantics), and for small,
 * frequent decisions that copy was the largest cost; this keeps it small.
 */
import type { CheckRequest, PolicyStatus, RefusalCode, Verdict } from "./verdict.js";

/**
 * [key, method, path, cost (0: each rule's own), ruleId ("": every matching rule), keyHash
 * ("": no API key to check)]
 */
export type WireRequest = [string, string, string, number, string, string];

/** [allowed 1|0, code ("" when allowed), policy index (-1: none), remaining, resetSeconds, retryAfterMs] */
export type WireVerdict = [0 | 1, string, number, number, number, number];

/** A batch's verdicts; `p` lists the policies they refer to: [id, limit, windowSeconds]. */
export interface WireVerdicts {
  p: [string, number, number][];
  v: WireVerdict[];
}

export function encodeRequest(req: CheckRequest): WireRequest {
  return [req.key, req.method, req.path, req.cost ?? 0, req.ruleId ?? "", req.keyHash ?? ""];
}

export function decodeRequest(w: WireRequest): CheckRequest {
  return {
    key: w[0],
    method: w[1],
    path: w[2],
    cost: w[3] > 0 ? w[3] : undefined,
    ruleId: w[4] === "" ? undefined : w[4],
    keyHash: w[5] === "" ? undefined : w[5],
  };
}

/** Collects verdicts into their wire form, one policy entry per distinct policy. */
export class VerdictEncoder {
  private readonly out: WireVerdicts = { p: [], v: [] };

  push(v: Verdict): void {
    let policy = -1;
    const p = v.policy;
    if (p) {
      // A batch names a handful of policies at most: a scan beats a map made per batch. A policy
      // with that id but other figures (changed within the batch) gets an entry of its own.
      const known = this.out.p;
      for (let i = known.length - 1; i >= 0; i--) {
        const k = known[i]!;
        if (k[0] === p.id && k[1] === p.limit && k[2] === p.windowSeconds) {
          policy = i;
          break;
        }
      }
      if (policy < 0) {
        policy = known.length;
        known.push([p.id, p.limit, p.windowSeconds]);
      }
    }
    this.out.v.push([
      v.allowed ? 1 : 0,
      v.code ?? "",
      policy,
      p?.remaining ?? 0,
      p?.resetSeconds ?? 0,
      v.retryAfterMs,
    ]);
  }

  get result(): WireVerdicts {
    return this.out;
  }
}

export function decodeVerdict(batch: WireVerdicts, i: number): Verdict {
  const [allowed, code, policy, remaining, resetSeconds, retryAfterMs] = batch.v[i]!;
  const p = policy >= 0 ? batch.p[policy]! : undefined;
  const status: PolicyStatus | undefined = p
    ? { id: p[0], limit: p[1], windowSeconds: p[2], remaining, resetSeconds }
    : undefined;
  const verdict: Verdict = { allowed: allowed === 1, retryAfterMs };
  if (code !== "") verdict.code = code as RefusalCode;
  if (status) verdict.policy = status;
  return verdict;
}
