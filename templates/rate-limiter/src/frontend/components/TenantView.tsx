/**
 * One tenant: its plan (pick one, or give it limits of its own), the live chart of its traffic
 * with "Send load", its API keys, its plan's rules and its usage history from SQL.
 */
import { useState } from "react";
import { admin, describeError, type Plan, type Tenant } from "../lib/api.js";
import { ApiKeys } from "./ApiKeys.js";
import { LiveTraffic } from "./LiveTraffic.js";
import { PlanRules } from "./PlanRules.js";
import { UsageHistory } from "./UsageHistory.js";

export function TenantView({
  token,
  tenant,
  plans,
  sharedWith,
  onChanged,
}: {
  token: string;
  tenant: Tenant;
  plans: Plan[];
  /** Other tenants on the same plan. */
  sharedWith: number;
  onChanged: () => Promise<void>;
}) {
  /** The last key made on this page: "Send load" uses it (keys are shown only once). */
  const [loadKey, setLoadKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const plan = plans.find((p) => p.id === tenant.planId);
  const customId = `${tenant.id}-custom`.slice(0, 40);

  async function choosePlan(planId: string) {
    setBusy(true);
    setError(null);
    try {
      await admin.setPlan(tenant.id, planId);
      await onChanged();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  /** A plan of the tenant's own, starting from its current rules, which it then moves to. */
  async function customLimits() {
    setBusy(true);
    setError(null);
    try {
      if (!plans.some((p) => p.id === customId)) {
        await admin.putPlan({
          id: customId,
          name: `${tenant.name} (custom)`,
          rules: plan?.rules ?? [],
        });
      }
      await admin.setPlan(tenant.id, customId);
      await onChanged();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="tenant">
      <header className="tenant-head">
        <div>
          <h1>{tenant.name}</h1>
          <p className="muted small">
            id <code>{tenant.id}</code>
            {tenant.aggregateLimit !== null &&
              ` · at most ${tenant.aggregateLimit} requests per ${Math.round((tenant.aggregateWindowMs ?? 0) / 1000)} s across all keys`}
          </p>
        </div>
        <div className="plan-picker">
          <label>
            Plan{" "}
            <select
              aria-label="Plan"
              value={tenant.planId}
              disabled={busy}
              onChange={(e) => void choosePlan(e.target.value)}
            >
              {plans.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          </label>
          {tenant.planId !== customId && (
            <button type="button" onClick={customLimits} disabled={busy}>
              Custom limits
            </button>
          )}
        </div>
      </header>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <LiveTraffic
        token={token}
        tenantId={tenant.id}
        loadKey={loadKey}
        onLoadKeyChange={setLoadKey}
      />
      <ApiKeys tenantId={tenant.id} onCreated={setLoadKey} />
      {plan && <PlanRules key={plan.id} plan={plan} sharedWith={sharedWith} onSaved={onChanged} />}
      <UsageHistory tenantId={tenant.id} />
    </div>
  );
}
