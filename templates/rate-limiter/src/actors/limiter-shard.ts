/**
 * `limiterShard [tenantId, shard]`: the counters of the keys that hash to this shard, and the
 * decisions on them (`check`, a batch of requests per call).
 *
 * Counters live in `vars` (memory): a decision changes no state, so it waits for no storage
 * write. Every `snapshotIntervalMs` the counters changed since the last snapshot are copied into
 * the durable state (one write for all of them), and on sleep all are. So a crash (kill -9)
 * forgets the decisions made since the start of the last snapshot whose write completed
 * (normally the last interval plus the write in flight; longer if the timer runs late): those
 * keys may be allowed that much again after a restart. Nothing else is lost.
 *
 * Counters are kept per rule, in maps keyed by the limited key (no key string is built per
 * decision), and updated in place.
 *
 * Memory is bounded: at most `maxKeysPerShard` counters; beyond it one goes, chosen by a clock
 * sweep (an approximation of least recently used that costs a decision only a flag): from the
 * oldest inserted on, an idle counter is dropped (back to its initial value, it loses nothing), a
 * counter used since the sweep last passed gets a second chance (flag cleared, moved to the back),
 * and the first one not used since is evicted. Idle counters are also swept every
 * `idleSweepIntervalMs`. A flood of new keys therefore costs the shard a bounded map, and at
 * worst lets an evicted busy key start afresh (counted in `stats`).
 *
 * A request may come with the hash of the API key it was made with (`CheckRequest.keyHash`): the
 * shard checks that key against its copy of the tenant's keys before deciding, so that a request
 * costs one actor call, not a key check on the coordinator and then a decision here.
 *
 * The tenant's aggregate limit is kept by its coordinator (`tenantLimiter`), which leases this
 * shard tokens in batches: an allowed request also spends a leased token, and a shard that has
 * none asks for more before it answers. Usage (allowed / limited per rule per minute) is kept
 * beside the counters, snapshotted with them, and rolled up by a durable recurring schedule into
 * an SQL outbox (`troupe/outbox`).
 */
import { actor, UserError } from "troupe";
import { enqueue, OutboxFlusher, type OutboxState } from "troupe/outbox";
import { type Counter, decide, isIdle } from "../limiter/algorithms.js";
import { capacityOf, type Rule, ruleMatches, windowSecondsOf } from "../limiter/rules.js";
import type { CheckRequest, PolicyStatus, Verdict } from "../limiter/verdict.js";
import {
  decodeRequest,
  requestCount,
  VerdictEncoder,
  type WireRequests,
  type WireVerdicts,
} from "../limiter/wire.js";
import {
  LIMITER_SLEEP_TIMEOUT_MS,
  type LimiterServices,
  type LimiterTuning,
  refuseOutsideCallers,
  TENANT_ID,
  type TenantConfig,
  type UsageRow,
} from "./services.js";
import { TRAFFIC_REPORT_MS, type TrafficReport } from "./tenant-traffic.js";

/** A counter in the snapshot: the rule it belongs to and its values. */
type StoredCounter = Counter & { rule: string };

/** A counter in memory: its values (changed in place), whose it is, and the sweep's flags. */
interface LiveCounter extends Counter {
  rule: string;
  key: string;
  /** Counted since the eviction sweep last passed it. */
  touched: boolean;
  /** In `ShardVars.dirty` (changed or dropped since the last snapshot). */
  dirty: boolean;
}

export type UsageEntry = { kind: "usage"; row: UsageRow };

export interface ShardState extends OutboxState<UsageEntry> {
  /** Counters as of the last snapshot, by `<ruleId>:<key>` (see `counterKey`). */
  counters: Record<string, StoredCounter>;
  snapshotAt: number;
  /** Usage not yet rolled up, by `JSON.stringify([minute, ruleId])`. */
  usage: Record<string, { allowed: number; limited: number }>;
}

export interface Lease {
  /** Start of the aggregate window the tokens belong to. */
  window: number;
  tokens: number;
}

export interface ShardVars {
  /** Counters by rule id, then by limited key (oldest inserted first: the sweep's order). */
  counters: Map<string, Map<string, LiveCounter>>;
  /** How many counters `counters` holds in all. */
  size: number;
  /** Counters changed since the last snapshot, dropped ones included (each once). */
  dirty: LiveCounter[];
  usage: Map<string, { allowed: number; limited: number }>;
  /** The bucket `usageNow` counts for, and its counts by rule (a view into `usage`). */
  usageBucket: number;
  usageNow: Map<string, { allowed: number; limited: number }>;
  config: TenantConfig | undefined;
  /** The rules matching each method and path seen (by method, then path), for the current config. */
  rulesByRoute: Map<string, Map<string, Rule[]>>;
  /** How many routes `rulesByRoute` holds in all. */
  routes: number;
  lease: Lease;
  /** A lease request in flight, shared by the batches that wait for it. */
  leasing: Promise<void> | undefined;
  timers: ReturnType<typeof setInterval>[];
  flusher: OutboxFlusher<UsageEntry> | undefined;
  /** Busy (not idle) counters dropped to stay under the cap. */
  evictedBusy: number;
  /**
   * The live chart's bookkeeping, kept off the decision path: how much of each `usage` entry was
   * reported to `tenantTraffic` already, and counts a snapshot moved out of `usage` before they
   * were reported (by rule).
   */
  reported: Map<string, { allowed: number; limited: number }>;
  unreported: Map<string, { allowed: number; limited: number }>;
}

export function createLimiterShard(services: LimiterServices, tuning: LimiterTuning) {
  return actor({
    onBeforeCreate: refuseOutsideCallers,
    onBeforeConnect: refuseOutsideCallers,
    // Only shards of tenants that exist are created: a key naming another tenant stores nothing.
    createState: async (c: { key: readonly string[] }): Promise<ShardState> => {
      const [tenantId, shard] = c.key;
      const valid =
        c.key.length === 2 &&
        TENANT_ID.test(tenantId ?? "") &&
        /^(0|[1-9][0-9]{0,3})$/.test(shard ?? "") &&
        Number(shard) < tuning.shardsPerTenant;
      if (!valid || !(await services.tenants.load(tenantId!))) {
        throw new UserError("There is no such tenant.", { code: "unknown_tenant" });
      }
      return { counters: {}, snapshotAt: 0, usage: {}, outbox: [], outboxSeq: 0 };
    },
    createVars: (): ShardVars => ({
      counters: new Map(),
      size: 0,
      dirty: [],
      usage: new Map(),
      usageBucket: -1,
      usageNow: new Map(),
      config: undefined,
      rulesByRoute: new Map(),
      routes: 0,
      lease: { window: -1, tokens: 0 },
      leasing: undefined,
      timers: [],
      flusher: undefined,
      evictedBusy: 0,
      reported: new Map(),
      unreported: new Map(),
    }),
    options: { sleepTimeout: LIMITER_SLEEP_TIMEOUT_MS },

    onWake: async (c) => {
      // Plain copies: the state's objects are tracked, and decisions read counters a lot.
      for (const [k, counter] of Object.entries(c.state.counters)) {
        // `<ruleId>:<key>`: rule ids have no colon (rules.ts).
        const key = k.slice(counter.rule.length + 1);
        const { at, value, prev, rule } = counter;
        insert(c.vars, { at, value, prev, rule, key, touched: false, dirty: false });
      }
      for (const [k, u] of Object.entries(c.state.usage)) c.vars.usage.set(k, { ...u });
      c.state.usage = {};
      const [tenantId] = c.key;
      c.vars.config ??= await c.client().tenantLimiter.getOrCreate([tenantId!]).configFor();
      c.vars.timers.push(
        setInterval(() => snapshot(c), tuning.snapshotIntervalMs),
        setInterval(() => sweepIdle(c), tuning.idleSweepIntervalMs),
        setInterval(() => reportTraffic(c), TRAFFIC_REPORT_MS),
      );
      c.vars.flusher = new OutboxFlusher<UsageEntry>({
        get state() {
          return c.state;
        },
        write: async (batch) => {
          await services.usage?.write(batch.map((e) => ({ ...e.row, seq: e.n })));
        },
        keepAwake: (p) => c.waitUntil(p),
        log: c.log,
      });
      c.vars.flusher.kick(0);
      if (!c.schedule.list().some((a) => a.action === "rollupUsage")) {
        await c.schedule.after(tuning.usageRollupMs, "rollupUsage");
      }
    },

    onSleep: async (c) => {
      for (const t of c.vars.timers) clearInterval(t);
      c.vars.timers = [];
      snapshot(c);
      const flusher = c.vars.flusher;
      if (flusher) {
        // Best effort; what is left stays in state and is flushed at the next wake.
        await Promise.race([flusher.flushNow(), new Promise((r) => setTimeout(r, 2000))]);
        flusher.stop();
      }
    },

    actions: {
      /**
       * Decides a batch of requests, in order; an allowed request is counted at once.
       * Synchronous unless it must wait (a stalled shard in tests, or a lease from the
       * coordinator), so the runtime answers it without a timer or extra turns.
       */
      check: (c, batch: WireRequests): WireVerdicts | Promise<WireVerdicts> => {
        const stall = services.faults?.beforeCheck?.(c.key[0]!, Number(c.key[1]));
        if (stall) return stall.then(() => decideBatch(c, batch, tuning));
        return decideBatch(c, batch, tuning);
      },

      /** The tenant's plan, rules or keys changed (pushed by the coordinator). */
      configure: (c, config: TenantConfig) => {
        if (!c.vars.config || config.version >= c.vars.config.version) {
          c.vars.config = config;
          c.vars.rulesByRoute.clear();
          c.vars.routes = 0;
        }
      },

      /** Recurring (durable schedule): finished minutes of usage go to the SQL outbox. */
      rollupUsage: async (c) => {
        snapshot(c);
        const minuteNow = Math.floor(Date.now() / tuning.usageBucketMs) * tuning.usageBucketMs;
        const [tenantId, shard] = c.key;
        for (const [k, u] of Object.entries(c.state.usage)) {
          const [minute, rule] = JSON.parse(k) as [number, string];
          if (minute >= minuteNow) continue;
          enqueue(c.state, {
            kind: "usage",
            row: { tenantId: tenantId!, shard: Number(shard), minute, rule, ...u },
          });
          delete c.state.usage[k];
        }
        c.vars.flusher?.kick();
        await c.schedule.after(tuning.usageRollupMs, "rollupUsage");
      },

      /** Copies the counters into durable state now (tests; the timer does it otherwise). */
      snapshotNow: async (c) => {
        snapshot(c);
        await c.saveState({ immediate: true });
        return c.state.snapshotAt;
      },

      stats: (c) => ({
        keys: c.vars.size,
        evictedBusy: c.vars.evictedBusy,
        configVersion: c.vars.config?.version ?? 0,
        lease: { ...c.vars.lease },
        pendingUsageRows: c.state.outbox.length,
      }),
    },
  });
}

type ShardContext = {
  key: string[];
  state: ShardState;
  vars: ShardVars;
  client(): any;
};

/**
 * Decides `batch` from request `from` on, with one clock reading for the whole batch. Runs
 * synchronously until a request needs tokens the shard's lease does not have; from there it
 * continues asynchronously (`decideAfterLease`).
 */
function decideBatch(
  c: ShardContext,
  batch: WireRequests,
  tuning: LimiterTuning,
  verdicts = new VerdictEncoder(),
  from = 0,
  now = Date.now(),
): WireVerdicts | Promise<WireVerdicts> {
  const config = c.vars.config!;
  const n = requestCount(batch);
  for (let i = from; i < n; i++) {
    const req = decodeRequest(batch, i);
    if (req.keyHash !== undefined) {
      const refused = keyRefusal(config, req.keyHash, req.key);
      if (refused) {
        // Not a decision: nothing counted, no usage (as when the coordinator refuses a key).
        verdicts.push({ allowed: false, code: refused, retryAfterMs: 0 });
        continue;
      }
    }
    const rules = rulesFor(c.vars, config, req);
    if (rules === undefined) {
      verdicts.push({ allowed: false, code: "unknown_rule", retryAfterMs: 0 });
      continue;
    }
    const verdict = decideAll(c.vars, rules, req, now);
    if (verdict.allowed && config.aggregate) {
      const cost = req.cost ?? maxCost(rules);
      // Nothing else runs between this decision and spending the token: no need to decide again.
      if (!spendLeased(c.vars, config, cost, now)) {
        return decideAfterLease(c, batch, tuning, verdicts, i, now, req, rules, cost, verdict);
      }
    }
    if (verdict.allowed) commit(c.vars, rules, req.key, verdict, tuning.maxKeysPerShard, now);
    countUsage(c.vars, now, tuning.usageBucketMs, rules[0]?.id ?? "*", verdict.allowed);
    verdicts.push(verdict.verdict);
  }
  return verdicts.result;
}

/** Request `i` needs a lease first; the rest of the batch follows. */
async function decideAfterLease(
  c: ShardContext,
  batch: WireRequests,
  tuning: LimiterTuning,
  verdicts: VerdictEncoder,
  i: number,
  now: number,
  req: CheckRequest,
  rules: Rule[],
  cost: number,
  pending: Pending,
): Promise<WireVerdicts> {
  const config = c.vars.config!;
  let verdict = await spendLease(c, config, cost, pending, now);
  if (verdict.allowed) {
    // Other batches ran while this one waited for a lease: decide again.
    const again = decideAll(c.vars, rules, req, now);
    if (!again.allowed) giveBack(c.vars, config, cost, now);
    verdict = again;
  }
  if (verdict.allowed) commit(c.vars, rules, req.key, verdict, tuning.maxKeysPerShard, now);
  countUsage(c.vars, now, tuning.usageBucketMs, rules[0]?.id ?? "*", verdict.allowed);
  verdicts.push(verdict.verdict);
  return decideBatch(c, batch, tuning, verdicts, i + 1, now);
}

/**
 * Why the API key hashing to `keyHash` may not make a request as `keyId`, if it may not: the
 * shard's copy of the tenant's keys (pushed by the coordinator with every change) is the same
 * the coordinator checks keys against, so a revocation reaches both at once.
 */
function keyRefusal(
  config: TenantConfig,
  keyHash: string,
  keyId: string,
): "unknown_api_key" | "revoked_api_key" | undefined {
  const record = Object.hasOwn(config.keys, keyHash) ? config.keys[keyHash] : undefined;
  if (!record || record.keyId !== keyId) return "unknown_api_key";
  if (record.revoked) return "revoked_api_key";
  return undefined;
}

/** Spends `cost` tokens of the shard's current lease if it has them. */
function spendLeased(vars: ShardVars, config: TenantConfig, cost: number, now: number): boolean {
  const w = config.aggregate!.windowMs;
  const lease = vars.lease;
  if (lease.window !== Math.floor(now / w) * w || lease.tokens < cost) return false;
  lease.tokens -= cost;
  return true;
}

/** The rules a request is decided by: the named one, or every rule matching its route. */
function rulesFor(vars: ShardVars, config: TenantConfig, req: CheckRequest): Rule[] | undefined {
  if (req.ruleId !== undefined) {
    const rule = config.rules.find((r) => r.id === req.ruleId);
    return rule ? [rule] : undefined;
  }
  let byPath = vars.rulesByRoute.get(req.method);
  let rules = byPath?.get(req.path);
  if (!rules) {
    rules = config.rules.filter((r) => ruleMatches(r, req.method, req.path));
    // Bounded: paths come from requests, and a scan of every path ever seen must not grow.
    if (vars.routes >= 1024) {
      vars.rulesByRoute.clear();
      vars.routes = 0;
      byPath = undefined;
    }
    if (!byPath) vars.rulesByRoute.set(req.method, (byPath = new Map()));
    byPath.set(req.path, rules);
    vars.routes += 1;
  }
  return rules;
}

function maxCost(rules: Rule[]): number {
  let cost = 1;
  for (const r of rules) cost = Math.max(cost, r.cost);
  return cost;
}

interface Pending {
  allowed: boolean;
  verdict: Verdict;
  /** Per rule (by index): the counter's values if this request is counted. */
  next: (Counter | undefined)[];
  /** Per rule: the counter found in memory, if any. */
  found: (LiveCounter | undefined)[];
}

/**
 * Decides `req` against every rule without counting it yet: allowed only if all allow. The
 * verdict reports the most restrictive rule (the refusing one with the longest wait, or the
 * one with the least left).
 */
function decideAll(vars: ShardVars, rules: Rule[], req: CheckRequest, now: number): Pending {
  let allowed = true;
  let worst: PolicyStatus | undefined;
  let worstRefused = false;
  let retryAfterMs = 0;
  let code: Verdict["code"];
  const next: (Counter | undefined)[] = [];
  const found: (LiveCounter | undefined)[] = [];
  for (const rule of rules) {
    const cost = req.cost ?? rule.cost;
    const live = vars.counters.get(rule.id)?.get(req.key);
    const d = decide(rule, live, cost, now);
    next.push(d.counter);
    found.push(live);
    const status: PolicyStatus = {
      id: rule.id,
      limit: capacityOf(rule),
      windowSeconds: windowSecondsOf(rule),
      remaining: d.remaining,
      resetSeconds: Math.ceil(d.resetMs / 1000),
    };
    if (!d.allowed) {
      allowed = false;
      if (d.code === "cost_exceeds_limit") code = "cost_exceeds_limit";
      else code ??= "rate_limited";
      if (!worstRefused || d.retryAfterMs > retryAfterMs) worst = status;
      worstRefused = true;
      retryAfterMs = Math.max(retryAfterMs, d.retryAfterMs);
    } else if (!worstRefused && (!worst || status.remaining < worst.remaining)) {
      worst = status;
    }
  }
  return {
    allowed,
    verdict: allowed
      ? { allowed, policy: worst, retryAfterMs }
      : { allowed, code, policy: worst, retryAfterMs },
    next,
    found,
  };
}

/** Counts an allowed request on every rule, with the counters `decideAll` computed. */
function commit(
  vars: ShardVars,
  rules: Rule[],
  key: string,
  pending: Pending,
  cap: number,
  now: number,
) {
  for (let i = 0; i < rules.length; i++) {
    const next = pending.next[i];
    if (!next) continue;
    const live = pending.found[i];
    if (live) {
      live.at = next.at;
      live.value = next.value;
      live.prev = next.prev;
      live.touched = true;
      markDirty(vars, live);
    } else {
      const rule = rules[i]!.id;
      const { at, value, prev } = next;
      const fresh: LiveCounter = { at, value, prev, rule, key, touched: false, dirty: false };
      insert(vars, fresh);
      markDirty(vars, fresh);
    }
  }
  if (vars.size > cap) evict(vars, now, cap);
}

function markDirty(vars: ShardVars, counter: LiveCounter): void {
  if (counter.dirty) return;
  counter.dirty = true;
  vars.dirty.push(counter);
}

function insert(vars: ShardVars, counter: LiveCounter): void {
  let byKey = vars.counters.get(counter.rule);
  if (!byKey) vars.counters.set(counter.rule, (byKey = new Map()));
  byKey.set(counter.key, counter);
  vars.size += 1;
}

function drop(vars: ShardVars, byKey: Map<string, LiveCounter>, counter: LiveCounter): void {
  byKey.delete(counter.key);
  vars.size -= 1;
  markDirty(vars, counter);
}

/**
 * Drops counters until under the cap (a clock sweep, oldest inserted first): idle ones go, those
 * used since the sweep last passed are moved to the back with the flag cleared, and the first
 * busy one not used since is evicted. Each counter is passed over at most once per flag set, so
 * the work is bounded by the counters in memory and amortised over the decisions that set flags.
 */
function evict(vars: ShardVars, now: number, cap: number): void {
  const rules = vars.config?.rules ?? [];
  for (const [ruleId, byKey] of vars.counters) {
    const rule = rules.find((r) => r.id === ruleId);
    for (const counter of byKey.values()) {
      if (vars.size <= cap) return;
      if (!rule || isIdle(rule, counter, now)) {
        drop(vars, byKey, counter);
      } else if (counter.touched) {
        counter.touched = false;
        // To the back: the iteration reaches it again after the others (then untouched).
        byKey.delete(counter.key);
        byKey.set(counter.key, counter);
      } else {
        drop(vars, byKey, counter);
        vars.evictedBusy += 1;
      }
    }
  }
}

function sweepIdle(c: { vars: ShardVars }): void {
  const now = Date.now();
  const rules = c.vars.config?.rules ?? [];
  for (const [ruleId, byKey] of c.vars.counters) {
    const rule = rules.find((r) => r.id === ruleId);
    for (const counter of byKey.values()) {
      if (!rule || isIdle(rule, counter, now)) drop(c.vars, byKey, counter);
    }
    if (byKey.size === 0) c.vars.counters.delete(ruleId);
  }
}

function countUsage(
  vars: ShardVars,
  now: number,
  bucketMs: number,
  rule: string,
  allowed: boolean,
): void {
  const bucket = Math.floor(now / bucketMs) * bucketMs;
  if (bucket !== vars.usageBucket) {
    vars.usageBucket = bucket;
    vars.usageNow.clear();
  }
  let u = vars.usageNow.get(rule);
  if (!u) {
    const k = JSON.stringify([bucket, rule]);
    u = vars.usage.get(k);
    if (!u) vars.usage.set(k, (u = { allowed: 0, limited: 0 }));
    vars.usageNow.set(rule, u);
  }
  if (allowed) u.allowed += 1;
  else u.limited += 1;
}

/** Copies changed counters and the usage counts into state: one storage write for all. */
function snapshot(c: { state: ShardState; vars: ShardVars }): void {
  if (c.vars.dirty.length === 0 && c.vars.usage.size === 0) return;
  const stored = c.state.counters;
  for (const counter of c.vars.dirty) {
    counter.dirty = false;
    // `<ruleId>:<key>`: unambiguous, rule ids have no colon (rules.ts).
    const k = `${counter.rule}:${counter.key}`;
    if (c.vars.counters.get(counter.rule)?.get(counter.key) === counter) {
      stored[k] = { at: counter.at, value: counter.value, prev: counter.prev, rule: counter.rule };
    } else if (!c.vars.counters.get(counter.rule)?.has(counter.key)) {
      delete stored[k];
    }
  }
  c.vars.dirty = [];
  for (const [k, u] of c.vars.usage) {
    carryUnreported(c.vars, k, u);
    const prev = c.state.usage[k];
    c.state.usage[k] = prev
      ? { allowed: prev.allowed + u.allowed, limited: prev.limited + u.limited }
      : u;
  }
  c.vars.usage.clear();
  c.vars.usageNow.clear();
  c.vars.reported.clear();
  c.state.snapshotAt = Date.now();
}

/** What a snapshot takes out of `usage` before the live report saw it is reported next time. */
function carryUnreported(
  vars: ShardVars,
  k: string,
  u: { allowed: number; limited: number },
): void {
  const seen = vars.reported.get(k);
  const allowed = u.allowed - (seen?.allowed ?? 0);
  const limited = u.limited - (seen?.limited ?? 0);
  if (allowed === 0 && limited === 0) return;
  const rule = (JSON.parse(k) as [number, string])[1];
  const carried = vars.unreported.get(rule);
  if (carried) {
    carried.allowed += allowed;
    carried.limited += limited;
  } else {
    vars.unreported.set(rule, { allowed, limited });
  }
}

/**
 * Every `TRAFFIC_REPORT_MS`: the requests allowed and limited per rule since the last report go
 * to the tenant's `tenantTraffic` (the dashboard's live chart). Read from the usage counts the
 * decisions keep anyway, so deciding does no extra work; nothing is sent while idle.
 */
function reportTraffic(c: ShardContext): void {
  const byRule = new Map<string, [number, number]>();
  const add = (rule: string, allowed: number, limited: number) => {
    const r = byRule.get(rule);
    if (r) {
      r[0] += allowed;
      r[1] += limited;
    } else {
      byRule.set(rule, [allowed, limited]);
    }
  };
  for (const [rule, u] of c.vars.unreported) add(rule, u.allowed, u.limited);
  c.vars.unreported.clear();
  for (const [k, u] of c.vars.usage) {
    const seen = c.vars.reported.get(k);
    const allowed = u.allowed - (seen?.allowed ?? 0);
    const limited = u.limited - (seen?.limited ?? 0);
    if (allowed === 0 && limited === 0) continue;
    add((JSON.parse(k) as [number, string])[1], allowed, limited);
    c.vars.reported.set(k, { allowed: u.allowed, limited: u.limited });
  }
  if (byRule.size === 0) return;
  const report: TrafficReport = [...byRule].map(([rule, [a, l]]) => [rule, a, l]);
  c.client()
    .tenantTraffic.getOrCreate([c.key[0]!])
    .report(report)
    .catch(() => {
      // Best effort: the chart misses a second, the durable usage rollup does not.
    });
}

/**
 * Spends `cost` leased tokens of the tenant's aggregate, asking the coordinator for a batch when
 * this shard has too few for the current window. Refused (`tenant_limit_reached`) when the
 * coordinator has none left in this window.
 */
async function spendLease(
  c: ShardContext,
  config: TenantConfig,
  cost: number,
  pending: Pending,
  now: number,
): Promise<Pending> {
  const aggregate = config.aggregate!;
  const window = Math.floor(now / aggregate.windowMs) * aggregate.windowMs;
  // Bounded: each round either spends, or waits for a lease that grew this shard's tokens.
  for (let round = 0; round < 8; round++) {
    const lease = c.vars.lease;
    if (lease.window === window && lease.tokens >= cost) {
      lease.tokens -= cost;
      return pending;
    }
    if (c.vars.leasing) {
      await c.vars.leasing;
      continue;
    }
    let granted = 0;
    c.vars.leasing = requestLease(c, window, cost)
      .then((n) => {
        granted = n;
      })
      .finally(() => {
        c.vars.leasing = undefined;
      });
    await c.vars.leasing;
    if (granted === 0) break;
  }
  const retryAfterMs = window + aggregate.windowMs - now;
  return {
    allowed: false,
    next: [],
    found: [],
    verdict: {
      allowed: false,
      code: "tenant_limit_reached",
      policy: {
        id: "tenant",
        limit: aggregate.limit,
        windowSeconds: Math.ceil(aggregate.windowMs / 1000),
        remaining: 0,
        resetSeconds: Math.ceil(retryAfterMs / 1000),
      },
      retryAfterMs,
    },
  };
}

/** Returns a spent token that did not admit anything after all. */
function giveBack(vars: ShardVars, config: TenantConfig, cost: number, now: number): void {
  const w = config.aggregate!.windowMs;
  if (vars.lease.window === Math.floor(now / w) * w) vars.lease.tokens += cost;
}

/** Asks the coordinator for tokens of `window`; resolves with how many it granted. */
async function requestLease(c: ShardContext, window: number, atLeast: number): Promise<number> {
  const granted: { window: number; tokens: number } = await c
    .client()
    .tenantLimiter.getOrCreate([c.key[0]!])
    .lease(window, atLeast);
  const lease = c.vars.lease;
  if (granted.window !== lease.window) {
    // Tokens of an older window are worthless now: they were never spent, so never admitted.
    c.vars.lease = { window: granted.window, tokens: granted.tokens };
  } else {
    lease.tokens += granted.tokens;
  }
  return granted.window === window ? granted.tokens : 0;
}
