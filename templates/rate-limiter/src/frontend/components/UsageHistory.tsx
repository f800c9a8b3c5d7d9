/**
 * Usage history from SQL: allowed and limited requests per minute (the last hour) or per day
 * (the last 30 days), as the shards rolled them up. A minute is written about a minute after it
 * ends, so the newest one lags the live chart; the history is read again every 30 s.
 */
import { useCallback, useEffect, useState } from "react";
import { admin, describeError, type UsageRow } from "../lib/api.js";
import { axisScale } from "../lib/chart.js";

type By = "minute" | "day";

const REFRESH_MS = 30_000;

interface Bar {
  at: number;
  allowed: number;
  limited: number;
}

/** Rows (one per rule) summed per minute or day, with empty buckets filled in. */
function barsOf(rows: UsageRow[], by: By): Bar[] {
  const step = by === "minute" ? 60_000 : 86_400_000;
  const count = by === "minute" ? 60 : 30;
  const last = Math.floor(Date.now() / step) * step;
  const bars = new Map<number, Bar>();
  for (let i = count - 1; i >= 0; i--) {
    const at = last - i * step;
    bars.set(at, { at, allowed: 0, limited: 0 });
  }
  for (const r of rows) {
    const at = Date.parse((by === "minute" ? r.minute : r.day) ?? "");
    const bar = bars.get(Math.floor(at / step) * step);
    if (!bar) continue;
    bar.allowed += r.allowed;
    bar.limited += r.limited;
  }
  return [...bars.values()];
}

export function UsageHistory({ tenantId }: { tenantId: string }) {
  const [by, setBy] = useState<By>("minute");
  const [rows, setRows] = useState<UsageRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);

  const load = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      setRows(await admin.usage(tenantId, by));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setLoading(false);
    }
  }, [tenantId, by]);
  useEffect(() => {
    setRows(null);
    void load();
    // New minutes land in SQL once a minute: read again now and then while the page is shown.
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void load();
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  const bars = rows ? barsOf(rows, by) : [];
  const total = bars.reduce(
    (a, b) => ({ allowed: a.allowed + b.allowed, limited: a.limited + b.limited }),
    { allowed: 0, limited: 0 },
  );
  const { max } = axisScale(Math.max(0, ...bars.map((b) => b.allowed + b.limited)));
  const W = 640;
  const H = 120;
  const bw = bars.length ? W / bars.length : W;

  return (
    <section className="card section" aria-labelledby="usage-title">
      <div className="section-head">
        <h2 id="usage-title">Usage history</h2>
        <div className="tabs" role="tablist">
          {(["minute", "day"] as const).map((b) => (
            <button
              key={b}
              type="button"
              role="tab"
              aria-selected={by === b}
              onClick={() => setBy(b)}
            >
              {b === "minute" ? "Per minute, last hour" : "Per day, last 30 days"}
            </button>
          ))}
          <button type="button" onClick={() => void load()} disabled={loading}>
            {loading ? "Loading…" : "Refresh"}
          </button>
        </div>
      </div>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : rows === null ? (
        <p className="muted">Loading…</p>
      ) : rows.length === 0 ? (
        <p className="muted empty" data-testid="usage-empty">
          No usage recorded {by === "minute" ? "in the last hour" : "in the last 30 days"}. Each
          minute is written to SQL about a minute after it ends.
        </p>
      ) : (
        <>
          <p className="small" data-testid="usage-total">
            {total.allowed} allowed, {total.limited} limited
          </p>
          <svg
            className="bars"
            viewBox={`-36 -8 ${W + 44} ${H + 28}`}
            role="img"
            aria-label={`Requests per ${by}`}
          >
            {[0, 1].map((f) => (
              <text key={f} x={-6} y={H - f * H + 4} className="axis" textAnchor="end">
                {Math.round(f * max)}
              </text>
            ))}
            <line x1={0} x2={W} y1={H} y2={H} className="grid" />
            {bars.map((b, i) => {
              const ha = (b.allowed / max) * H;
              const hl = (b.limited / max) * H;
              return (
                <g key={b.at}>
                  <title>
                    {new Date(b.at).toLocaleString()}: {b.allowed} allowed, {b.limited} limited
                  </title>
                  <rect
                    x={i * bw + 1}
                    width={Math.max(1, bw - 2)}
                    y={H - ha}
                    height={ha}
                    className="bar allowed"
                  />
                  <rect
                    x={i * bw + 1}
                    width={Math.max(1, bw - 2)}
                    y={H - ha - hl}
                    height={hl}
                    className="bar limited"
                  />
                </g>
              );
            })}
            <text x={0} y={H + 18} className="axis">
              {by === "minute" ? "−60 min" : "−30 days"}
            </text>
            <text x={W} y={H + 18} className="axis" textAnchor="end">
              now
            </text>
          </svg>
        </>
      )}
    </section>
  );
}
