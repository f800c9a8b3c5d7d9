/**
 * The rules of the tenant's plan, editable: route and method matched, algorithm, limit and
 * window (or rate and burst), cost, what happens when the limiter cannot answer. Saved as a
 * whole; the server checks every rule (a zero limit, an absurd window are refused with the
 * field named) and pushes the plan to the running shards of every tenant on it before it
 * answers.
 */
import { type FormEvent, useState } from "react";
import type { Rule } from "../../limiter/rules.js";
import { admin, describeError, type Plan } from "../lib/api.js";

type Algorithm = Rule["algorithm"];

interface Draft {
  /** Identifies the row while it is edited (ids can be edited, so not the rule's id). */
  uid: number;
  id: string;
  route: string;
  method: string;
  algorithm: Algorithm;
  limit: string;
  windowSeconds: string;
  rate: string;
  burst: string;
  cost: string;
  failMode: "open" | "closed";
}

let nextUid = 1;

function toDraft(r: Rule): Draft {
  return {
    uid: nextUid++,
    id: r.id,
    route: r.match.route,
    method: r.match.method,
    algorithm: r.algorithm,
    limit: r.algorithm === "token-bucket" ? "" : String(r.limit),
    windowSeconds: r.algorithm === "token-bucket" ? "" : String(r.windowMs / 1000),
    rate: r.algorithm === "token-bucket" ? String(r.rate) : "",
    burst: r.algorithm === "token-bucket" ? String(r.burst) : "",
    cost: String(r.cost),
    failMode: r.failMode,
  };
}

/** What the server's rule schema reads; numbers as typed (the server says what is wrong). */
function fromDraft(d: Draft): unknown {
  const common = {
    id: d.id.trim(),
    match: { route: d.route.trim(), method: d.method },
    cost: Number(d.cost),
    failMode: d.failMode,
  };
  return d.algorithm === "token-bucket"
    ? { ...common, algorithm: d.algorithm, rate: Number(d.rate), burst: Number(d.burst) }
    : {
        ...common,
        algorithm: d.algorithm,
        limit: Number(d.limit),
        windowMs: Math.round(Number(d.windowSeconds) * 1000),
      };
}

const BLANK: Omit<Draft, "uid"> = {
  id: "",
  route: "/v1/*",
  method: "GET",
  algorithm: "sliding-window",
  limit: "100",
  windowSeconds: "60",
  rate: "",
  burst: "",
  cost: "1",
  failMode: "open",
};

export function PlanRules({
  plan,
  sharedWith,
  onSaved,
}: {
  plan: Plan;
  /** Other tenants on this plan (a change applies to them too). */
  sharedWith: number;
  onSaved: () => Promise<void>;
}) {
  const [drafts, setDrafts] = useState<Draft[]>(() => plan.rules.map(toDraft));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const dirty =
    JSON.stringify(drafts.map(fromDraft)) !==
    JSON.stringify(plan.rules.map(toDraft).map(fromDraft));

  function change(i: number, patch: Partial<Draft>) {
    setSaved(false);
    setDrafts((ds) => ds.map((d, j) => (j === i ? { ...d, ...patch } : d)));
  }

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await admin.putPlan({ id: plan.id, name: plan.name, rules: drafts.map(fromDraft) as Rule[] });
      setSaved(true);
      await onSaved();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card section" aria-labelledby="rules-title">
      <div className="section-head">
        <h2 id="rules-title">Limits of the plan “{plan.name}”</h2>
        {sharedWith > 0 && (
          <span className="muted small">
            also used by {sharedWith} other tenant{sharedWith === 1 ? "" : "s"}: a change applies to
            them too
          </span>
        )}
      </div>
      <form onSubmit={save}>
        {drafts.length === 0 && (
          <p className="muted empty">No rules: every request is allowed. Add one.</p>
        )}
        <div className="rules">
          {drafts.map((d, i) => (
            <fieldset key={d.uid} className="rule" aria-label={`Rule ${d.id || i + 1}`}>
              <label>
                Id
                <input value={d.id} onChange={(e) => change(i, { id: e.target.value })} required />
              </label>
              <label className="wide">
                Route
                <input
                  value={d.route}
                  onChange={(e) => change(i, { route: e.target.value })}
                  required
                />
              </label>
              <label>
                Method
                <select value={d.method} onChange={(e) => change(i, { method: e.target.value })}>
                  {["GET", "POST", "PUT", "PATCH", "DELETE", "*"].map((m) => (
                    <option key={m}>{m}</option>
                  ))}
                </select>
              </label>
              <label>
                Algorithm
                <select
                  value={d.algorithm}
                  onChange={(e) => {
                    const algorithm = e.target.value as Algorithm;
                    change(
                      i,
                      algorithm === "token-bucket"
                        ? { algorithm, rate: d.rate || "1", burst: d.burst || "10" }
                        : {
                            algorithm,
                            limit: d.limit || "100",
                            windowSeconds: d.windowSeconds || "60",
                          },
                    );
                  }}
                >
                  <option value="sliding-window">sliding window</option>
                  <option value="fixed-window">fixed window</option>
                  <option value="token-bucket">token bucket</option>
                </select>
              </label>
              {d.algorithm === "token-bucket" ? (
                <>
                  <label>
                    Rate (per s)
                    <input
                      inputMode="decimal"
                      value={d.rate}
                      onChange={(e) => change(i, { rate: e.target.value })}
                    />
                  </label>
                  <label>
                    Burst
                    <input
                      inputMode="numeric"
                      value={d.burst}
                      onChange={(e) => change(i, { burst: e.target.value })}
                    />
                  </label>
                </>
              ) : (
                <>
                  <label>
                    Limit
                    <input
                      inputMode="numeric"
                      value={d.limit}
                      onChange={(e) => change(i, { limit: e.target.value })}
                    />
                  </label>
                  <label>
                    Window (s)
                    <input
                      inputMode="decimal"
                      value={d.windowSeconds}
                      onChange={(e) => change(i, { windowSeconds: e.target.value })}
                    />
                  </label>
                </>
              )}
              <label>
                Cost
                <input
                  inputMode="numeric"
                  value={d.cost}
                  onChange={(e) => change(i, { cost: e.target.value })}
                />
              </label>
              <label>
                If unreachable
                <select
                  value={d.failMode}
                  onChange={(e) => change(i, { failMode: e.target.value as "open" | "closed" })}
                >
                  <option value="open">let through</option>
                  <option value="closed">refuse (503)</option>
                </select>
              </label>
              <button
                type="button"
                className="danger-link"
                onClick={() => {
                  setSaved(false);
                  setDrafts((ds) => ds.filter((_, j) => j !== i));
                }}
              >
                Remove
              </button>
            </fieldset>
          ))}
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="actions">
          <button
            type="button"
            onClick={() => {
              setSaved(false);
              setDrafts((ds) => [...ds, { ...BLANK, uid: nextUid++, id: `rule-${ds.length + 1}` }]);
            }}
          >
            Add rule
          </button>
          <button type="submit" className="primary" disabled={busy || !dirty}>
            {busy ? "Saving…" : "Save limits"}
          </button>
          {saved && !dirty && <span className="muted small">Saved: the shards have it.</span>}
        </div>
      </form>
    </section>
  );
}
