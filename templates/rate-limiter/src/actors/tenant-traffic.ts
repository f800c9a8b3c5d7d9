/**
 * `tenantTraffic [tenantId]`: the live view of a tenant's traffic, for the dashboard. Every
 * shard of the tenant reports, about once a second, how many requests it allowed and limited per
 * rule since its last report (`report`, in-process); this actor adds the reports up per second
 * and, once a second ends, broadcasts it as a `second` event: `{ t, rules: { [ruleId]: {
 * allowed, limited } } }`. The dashboard connects with the admin's token and draws the events;
 * `recent()` gives it the last `HISTORY_SECONDS` when it opens, so the chart is never empty
 * while traffic flows. Nothing is polled and nothing here is durable: the durable record of
 * usage is the per-minute rollup in SQL.
 *
 * A second is attributed to the second in which a report arrives: shards report on their own
 * timers, so the split between two neighbouring seconds is approximate, the total is exact.
 */
import { actor, event, Forbidden, UserError } from "troupe";
import { type LimiterServices, TENANT_ID } from "./services.js";

/** How often a shard reports its counts since the last report. */
export const TRAFFIC_REPORT_MS = 1000;
/** Seconds of history a newly opened dashboard gets. */
export const HISTORY_SECONDS = 120;

export interface RuleCounts {
  allowed: number;
  limited: number;
}

/** One second of one tenant's traffic: `t` is the second's start (ms since epoch). */
export interface TrafficSecond {
  t: number;
  rules: Record<string, RuleCounts>;
}

/** What a shard reports: `[ruleId, allowed, limited]` per rule with traffic. */
export type TrafficReport = [rule: string, allowed: number, limited: number][];

export interface TrafficVars {
  /** Seconds not yet broadcast, by start. */
  open: Map<number, Record<string, RuleCounts>>;
  history: TrafficSecond[];
  timer: ReturnType<typeof setInterval> | undefined;
}

export interface WatchParams {
  /** The admin's token (`POST /api/admin/login`). */
  token?: string;
}

export function createTenantTraffic(services: LimiterServices) {
  /** Only the admin watches: the check comes from the app (it knows how tokens are signed). */
  function assertWatcher(params: unknown): void {
    const token = (params as WatchParams | undefined)?.token;
    if (!services.canWatch) {
      throw new Forbidden("The limiter's actors are internal to the server.", {
        code: "internal_actor",
      });
    }
    if (!services.canWatch(token)) {
      throw new Forbidden("Sign in as the admin first.", { code: "admin_required" });
    }
  }

  return actor({
    onBeforeCreate: (_c, { params }) => assertWatcher(params),
    onBeforeConnect: (_c, params: WatchParams | undefined) => assertWatcher(params),
    createState: (c: { key: readonly string[] }) => {
      if (c.key.length !== 1 || !TENANT_ID.test(c.key[0] ?? "")) {
        throw new UserError("There is no such tenant.", { code: "unknown_tenant" });
      }
      return {};
    },
    createVars: (): TrafficVars => ({ open: new Map(), history: [], timer: undefined }),
    events: {
      second: event<TrafficSecond>(),
    },

    onWake: (c) => {
      c.vars.timer = setInterval(() => {
        const current = Math.floor(Date.now() / 1000) * 1000;
        // Every second before the current one is over: broadcast it, empty ones included, so
        // the chart moves on at the same pace whether traffic flows or not.
        const last = c.vars.history.at(-1)?.t;
        let from = last === undefined ? current - 1000 : last + 1000;
        // After a long sleep, do not replay hours of empty seconds.
        from = Math.max(from, current - HISTORY_SECONDS * 1000);
        for (let t = from; t < current; t += 1000) {
          const sample: TrafficSecond = { t, rules: c.vars.open.get(t) ?? {} };
          c.vars.open.delete(t);
          c.vars.history.push(sample);
          c.broadcast("second", sample);
        }
        for (const t of c.vars.open.keys()) if (t < current) c.vars.open.delete(t);
        if (c.vars.history.length > HISTORY_SECONDS) {
          c.vars.history.splice(0, c.vars.history.length - HISTORY_SECONDS);
        }
      }, 1000);
    },
    onSleep: (c) => {
      clearInterval(c.vars.timer);
      c.vars.timer = undefined;
    },

    actions: {
      /** A shard's counts since its last report (in-process, from `limiterShard`). */
      report: (c, counts: TrafficReport) => {
        // Shards call in-process without params (and so without a connection); a dashboard,
        // which connects with its token, only watches.
        const conn = c.conn as { params?: unknown } | undefined;
        if (conn?.params !== undefined) {
          throw new Forbidden("Only the limiter's shards report traffic.", {
            code: "internal_action",
          });
        }
        const t = Math.floor(Date.now() / 1000) * 1000;
        let second = c.vars.open.get(t);
        if (!second) c.vars.open.set(t, (second = {}));
        for (const [rule, allowed, limited] of counts) {
          const r = (second[rule] ??= { allowed: 0, limited: 0 });
          r.allowed += allowed;
          r.limited += limited;
        }
      },

      /** The last seconds, oldest first (what a dashboard draws before the first event). */
      recent: (c): TrafficSecond[] => c.vars.history,
    },
  });
}
