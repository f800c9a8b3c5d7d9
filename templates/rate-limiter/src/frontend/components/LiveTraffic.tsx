/**
 * The live chart: allowed and limited requests per second for the tenant, all endpoints or one.
 * Fed by the `second` events of the tenant's `tenantTraffic` actor (the shards report to it),
 * over a connection opened with the admin's token; `recent()` fills the chart when it opens.
 * Drawn as plain SVG. Below it, "Send load" sends real requests with a key of the tenant.
 */
import { type FormEvent, type RefObject, useEffect, useRef, useState } from "react";
import type { TrafficSecond } from "../../actors/index.js";
import { describeError, session, useActor } from "../lib/api.js";
import {
  areaPath,
  averageRate,
  axisScale,
  hasTraffic,
  linePath,
  mergeSecond,
  type Point,
  pointsFor,
  rulesIn,
  WINDOW_SECONDS,
} from "../lib/chart.js";
import { sendLoad } from "../lib/load.js";

/** The width of the element `ref` points at, followed as it changes (the chart's own size). */
function useWidth(ref: RefObject<HTMLElement | null>, fallback: number): number {
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(([entry]) => {
      if (entry) setWidth(Math.round(entry.contentRect.width));
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

export function LiveTraffic({
  token,
  tenantId,
  loadKey,
  onLoadKeyChange,
}: {
  token: string;
  tenantId: string;
  loadKey: string;
  onLoadKeyChange: (key: string) => void;
}) {
  const traffic = useActor({ name: "tenantTraffic", key: [tenantId], params: { token } });
  const [series, setSeries] = useState<TrafficSecond[] | null>(null);
  const [rule, setRule] = useState<string | null>(null);

  // A token the server no longer takes (expired, or the secret changed): sign in again.
  const refused = (traffic.error as { code?: string } | null)?.code === "admin_required";
  useEffect(() => {
    if (refused) session.signOut("Your session ended. Please sign in again.");
  }, [refused]);

  traffic.useEvent("second", (s) => setSeries((prev) => mergeSecond(prev ?? [], s)));
  const conn = traffic.connection;
  useEffect(() => {
    if (!conn || !traffic.isConnected) return;
    conn.recent().then(
      (recent) =>
        setSeries((prev) => {
          let merged = prev ?? [];
          for (const s of recent) merged = mergeSecond(merged, s);
          return merged;
        }),
      () => setSeries((prev) => prev ?? []),
    );
  }, [conn, traffic.isConnected]);

  const end = series?.at(-1)?.t ?? Math.floor(Date.now() / 1000) * 1000 - 1000;
  const rules = rulesIn(series ?? []);
  const points = pointsFor(series ?? [], rule, end, WINDOW_SECONDS);
  const now = averageRate(points, 5);

  const status = traffic.isConnected
    ? "live"
    : traffic.error
      ? describeError(traffic.error)
      : "connecting…";

  return (
    <section className="card section" aria-labelledby="live-title">
      <div className="section-head">
        <h2 id="live-title">Live traffic</h2>
        <span
          className={`status ${traffic.isConnected ? "ok" : traffic.error ? "bad" : ""}`}
          data-testid="live-status"
        >
          {status}
        </span>
      </div>
      <div className="chips">
        {[null, ...rules].map((r) => (
          <button key={r ?? "*"} type="button" aria-pressed={rule === r} onClick={() => setRule(r)}>
            {r ?? "All endpoints"}
          </button>
        ))}
      </div>
      <div className="rates" data-testid="rates">
        <span className="rate allowed">
          <b data-testid="allowed-rate">{formatRate(now.allowed)}</b> allowed/s
        </span>
        <span className="rate limited">
          <b data-testid="limited-rate">{formatRate(now.limited)}</b> limited/s
        </span>
        <span className="muted small">average of the last 5 s</span>
      </div>
      {series === null ? (
        <p className="muted chart-empty">{traffic.error ? status : "Loading…"}</p>
      ) : (
        <Chart points={points} />
      )}
      {rules.length > 1 && (
        <table className="by-endpoint">
          <thead>
            <tr>
              <th>Endpoint (rule)</th>
              <th>allowed/s</th>
              <th>limited/s</th>
            </tr>
          </thead>
          <tbody>
            {rules.map((r) => {
              const rate = averageRate(pointsFor(series ?? [], r, end, 5), 5);
              return (
                <tr key={r}>
                  <td>{r}</td>
                  <td>{formatRate(rate.allowed)}</td>
                  <td>{formatRate(rate.limited)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <LoadForm loadKey={loadKey} onLoadKeyChange={onLoadKeyChange} />
    </section>
  );
}

function formatRate(v: number): string {
  return v >= 10 || v === 0 ? String(Math.round(v)) : v.toFixed(1);
}

function Chart({ points }: { points: Point[] }) {
  // Drawn at the size it is shown (not scaled), so the axis text stays readable on a phone.
  const figure = useRef<HTMLElement>(null);
  const outer = useWidth(figure, 640);
  const W = Math.max(200, outer - 44);
  const H = outer < 500 ? 140 : 180;
  const { max, ticks } = axisScale(Math.max(...points.map((p) => Math.max(p.allowed, p.limited))));
  // No requests: no series at all (a line of each at 0 would read as data), the axes and a
  // sentence in their place.
  const drawn = hasTraffic(points);
  const allowed = points.map((p) => p.allowed);
  const limited = points.map((p) => p.limited);
  const last = points.at(-1);
  return (
    <figure className="chart" ref={figure} aria-label="Allowed and limited requests per second">
      <svg
        viewBox={`-36 -8 ${W + 44} ${H + 28}`}
        role="img"
        aria-label="Allowed and limited requests per second"
        data-testid="live-chart"
        data-max={max}
      >
        {ticks.map((tick) => {
          const y = H - (tick / max) * H;
          return (
            <g key={tick} data-testid="y-tick">
              <line x1={0} x2={W} y1={y} y2={y} className="grid" />
              <text x={-6} y={y + 4} className="axis" textAnchor="end">
                {tick}
              </text>
            </g>
          );
        })}
        {drawn && (
          <>
            <path d={areaPath(allowed, max, W, H)} className="area allowed" />
            <path d={linePath(allowed, max, W, H)} className="line allowed" />
            <path d={areaPath(limited, max, W, H)} className="area limited" />
            <path d={linePath(limited, max, W, H)} className="line limited" />
          </>
        )}
        <text x={0} y={H + 18} className="axis">
          −{points.length} s
        </text>
        <text x={W} y={H + 18} className="axis" textAnchor="end">
          {last ? new Date(last.t).toLocaleTimeString() : ""}
        </text>
      </svg>
      {!drawn && (
        <p className="chart-quiet muted small" data-testid="no-traffic">
          <span>
            No traffic in the last {WINDOW_SECONDS / 60} minutes. Send load below, or call the API
            with a key.
          </span>
        </p>
      )}
      <figcaption className="legend">
        <span className="swatch allowed" /> allowed <span className="swatch limited" /> limited
        (429)
      </figcaption>
    </figure>
  );
}

function LoadForm({
  loadKey,
  onLoadKeyChange,
}: {
  loadKey: string;
  onLoadKeyChange: (key: string) => void;
}) {
  const [rate, setRate] = useState(20);
  const [seconds, setSeconds] = useState(15);
  const [counts, setCounts] = useState<Record<string, number> | null>(null);
  const [running, setRunning] = useState(false);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);

  async function start(e: FormEvent) {
    e.preventDefault();
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setRunning(true);
    setCounts({});
    try {
      await sendLoad({
        key: loadKey.trim(),
        rate,
        seconds,
        signal: controller.signal,
        onProgress: setCounts,
      });
    } finally {
      if (abort.current === controller) {
        abort.current = null;
        setRunning(false);
      }
    }
  }

  return (
    <form className="load" onSubmit={start} aria-label="Send load">
      <label className="grow">
        API key to send with
        <input
          value={loadKey}
          onChange={(e) => onLoadKeyChange(e.target.value)}
          placeholder="rl_… (a key created below is filled in)"
          spellCheck={false}
        />
      </label>
      <label>
        req/s
        <input
          type="number"
          min={1}
          max={200}
          value={rate}
          onChange={(e) => setRate(Math.max(1, Math.min(200, Number(e.target.value) || 1)))}
        />
      </label>
      <label>
        seconds
        <input
          type="number"
          min={1}
          max={120}
          value={seconds}
          onChange={(e) => setSeconds(Math.max(1, Math.min(120, Number(e.target.value) || 1)))}
        />
      </label>
      {running ? (
        <button type="button" className="stop" onClick={() => abort.current?.abort()}>
          Stop
        </button>
      ) : (
        <button type="submit" className="primary" disabled={!loadKey.trim()}>
          Send load
        </button>
      )}
      {counts && (
        <p className="load-counts small" data-testid="load-counts">
          {Object.keys(counts).length === 0
            ? "Sending…"
            : Object.entries(counts)
                .sort()
                .map(([status, n]) => `${status}: ${n}`)
                .join("  ")}
          {running ? "" : " (done)"}
        </p>
      )}
    </form>
  );
}
