/**
 * A tenant's API keys: make one (its secret is shown once, with a `curl` line to try it), see
 * them by prefix, revoke one (refused from the next request on).
 */
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { admin, type CreatedKey, describeError, type KeyInfo } from "../lib/api.js";
import { curlLine } from "../lib/load.js";

export function ApiKeys({
  tenantId,
  onCreated,
}: {
  tenantId: string;
  onCreated: (key: string) => void;
}) {
  const [keys, setKeys] = useState<KeyInfo[] | null>(null);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(async () => {
    try {
      setKeys(await admin.keys(tenantId));
    } catch (err) {
      setError(describeError(err));
    }
  }, [tenantId]);
  useEffect(() => {
    void reload();
  }, [reload]);

  async function create(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const key = await admin.createKey(tenantId, name.trim());
      setCreated(key);
      setName("");
      onCreated(key.key);
      await reload();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  async function revoke(k: KeyInfo) {
    if (!window.confirm(`Revoke “${k.name}” (${k.prefix}…)? Requests with it are refused at once.`))
      return;
    setError(null);
    try {
      await admin.revokeKey(tenantId, k.id);
      await reload();
    } catch (err) {
      setError(describeError(err));
    }
  }

  return (
    <section className="card section" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <form className="inline-form" onSubmit={create}>
        <input
          aria-label="Key name"
          placeholder="What the key is for, e.g. laptop"
          value={name}
          onChange={(e) => setName(e.target.value)}
          maxLength={100}
          required
        />
        <button type="submit" className="primary" disabled={busy || !name.trim()}>
          {busy ? "Creating…" : "Create key"}
        </button>
      </form>
      {created && (
        <div className="new-key" data-testid="new-key">
          <p>
            <strong>{created.name}</strong>: copy the key now, it is not shown again (only its hash
            is stored).
          </p>
          <CopyField label="Key" value={created.key} />
          <CopyField label="Try it" value={curlLine(window.location.origin, created.key)} />
          <button type="button" className="link" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {keys === null ? (
        <p className="muted">{error ? "" : "Loading…"}</p>
      ) : keys.length === 0 ? (
        <p className="muted empty">No keys yet. Create one to call the API.</p>
      ) : (
        <ul className="key-list">
          {keys.map((k) => (
            <li key={k.id} className={k.revokedAt ? "revoked" : ""}>
              <span>
                <strong>{k.name}</strong> <code>{k.prefix}…</code>
              </span>
              <span className="muted small">
                {k.revokedAt
                  ? `revoked ${new Date(k.revokedAt).toLocaleString()}`
                  : `created ${new Date(k.createdAt).toLocaleString()}`}
              </span>
              {!k.revokedAt && (
                <button type="button" className="danger-link" onClick={() => revoke(k)}>
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function CopyField({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="copy-field">
      <span className="muted small">{label}</span>
      <code>{value}</code>
      <button
        type="button"
        onClick={() =>
          navigator.clipboard?.writeText(value).then(
            () => {
              setCopied(true);
              setTimeout(() => setCopied(false), 1500);
            },
            () => {},
          )
        }
      >
        {copied ? "Copied" : "Copy"}
      </button>
    </div>
  );
}
