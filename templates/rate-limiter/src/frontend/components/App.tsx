/**
 * The dashboard's frame: the sign-in screen without a token; with one, the tenants (sidebar:
 * the list and a form to add one) and the open tenant, whose id is in the address (`/t/<id>`)
 * so a reload or a second tab opens it. The sidebar folds under a menu button at phone width.
 */
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { admin, describeError, type Plan, type Tenant, useSession } from "../lib/api.js";
import { SignIn } from "./SignIn.js";
import { TenantView } from "./TenantView.js";

function readRoute(): string | undefined {
  const m = window.location.pathname.match(/^\/t\/([^/]+)$/);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

export function navigate(path: string): void {
  window.history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function App() {
  const { token, problem } = useSession();
  if (!token) return <SignIn problem={problem} />;
  return <Dashboard token={token} />;
}

function Dashboard({ token }: { token: string }) {
  const [tenantId, setTenantId] = useState(readRoute);
  const [tenants, setTenants] = useState<Tenant[] | null>(null);
  const [plans, setPlans] = useState<Plan[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    const onPop = () => setTenantId(readRoute());
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  const reload = useCallback(async () => {
    try {
      const [t, p] = await Promise.all([admin.tenants(), admin.plans()]);
      setTenants(t);
      setPlans(p);
      setError(null);
    } catch (err) {
      setError(describeError(err));
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [reload]);

  const tenant = tenants?.find((t) => t.id === tenantId);

  return (
    <div className={`layout ${tenantId ? "has-tenant" : ""}`}>
      <aside className={`sidebar ${menuOpen ? "open" : ""}`} aria-label="Tenants">
        <div className="sidebar-head">
          <strong>Tenants</strong>
          {tenantId && (
            <button type="button" className="close-menu" onClick={() => setMenuOpen(false)}>
              Close
            </button>
          )}
        </div>
        {tenants === null ? (
          <p className="muted pad">{error ?? "Loading…"}</p>
        ) : tenants.length === 0 ? (
          <p className="muted pad empty">No tenants yet. Add the first one below.</p>
        ) : (
          <ul className="tenant-list">
            {tenants.map((t) => (
              <li key={t.id}>
                <a
                  href={`/t/${encodeURIComponent(t.id)}`}
                  aria-current={t.id === tenantId ? "page" : undefined}
                  onClick={(e) => {
                    e.preventDefault();
                    setMenuOpen(false);
                    navigate(`/t/${encodeURIComponent(t.id)}`);
                  }}
                >
                  <span className="title">{t.name}</span>
                  <span className="muted small">
                    {t.id} · {plans?.find((p) => p.id === t.planId)?.name ?? t.planId}
                  </span>
                </a>
              </li>
            ))}
          </ul>
        )}
        <NewTenant
          plans={plans}
          onCreated={async (id) => {
            await reload();
            setMenuOpen(false);
            navigate(`/t/${encodeURIComponent(id)}`);
          }}
        />
        <footer className="sidebar-foot">
          <button type="button" className="link" onClick={() => void admin.signOut()}>
            Sign out
          </button>
        </footer>
      </aside>
      <main className="main">
        <button type="button" className="menu-button" onClick={() => setMenuOpen((o) => !o)}>
          ☰ Tenants
        </button>
        {error && tenants !== null && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {tenantId && tenant && plans ? (
          <TenantView
            key={tenant.id}
            token={token}
            tenant={tenant}
            plans={plans}
            sharedWith={tenants!.filter((t) => t.planId === tenant.planId).length - 1}
            onChanged={reload}
          />
        ) : tenantId && tenants !== null && !tenant ? (
          <div className="placeholder">
            <p>There is no tenant “{tenantId}”.</p>
          </div>
        ) : tenants === null ? (
          <div className="placeholder">
            <p className="muted">{error ?? "Loading…"}</p>
          </div>
        ) : (
          <div className="placeholder">
            <p>
              Pick a tenant, or add one: each tenant has a plan (its limits), API keys and a live
              view of its traffic.
            </p>
          </div>
        )}
      </main>
    </div>
  );
}

function slugify(name: string): string {
  return name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
}

function NewTenant({
  plans,
  onCreated,
}: {
  plans: Plan[] | null;
  onCreated: (id: string) => Promise<void>;
}) {
  const [name, setName] = useState("");
  const [id, setId] = useState("");
  const [idEdited, setIdEdited] = useState(false);
  const [planId, setPlanId] = useState("free");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await admin.createTenant({ id, name: name.trim(), planId });
      setName("");
      setId("");
      setIdEdited(false);
      await onCreated(created.id);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="new-tenant" onSubmit={submit} aria-label="Add a tenant">
      <strong>Add a tenant</strong>
      <label>
        Name
        <input
          value={name}
          onChange={(e) => {
            setName(e.target.value);
            if (!idEdited) setId(slugify(e.target.value));
          }}
          placeholder="Acme Inc"
          maxLength={100}
          required
        />
      </label>
      <label>
        Id (in its API keys)
        <input
          value={id}
          onChange={(e) => {
            setId(e.target.value);
            setIdEdited(true);
          }}
          placeholder="acme"
          maxLength={40}
          required
        />
      </label>
      <label>
        Plan
        <select value={planId} onChange={(e) => setPlanId(e.target.value)}>
          {(plans ?? []).map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
        </select>
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" className="primary" disabled={busy || !name.trim() || !id}>
        {busy ? "Adding…" : "Add tenant"}
      </button>
    </form>
  );
}
