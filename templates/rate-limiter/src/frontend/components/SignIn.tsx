/**
 * The admin's sign-in: one password (set from ADMIN_PASSWORD on the server's first start). The
 * server limits attempts per address; its refusal is shown in words.
 */
import { type FormEvent, useState } from "react";
import { admin, describeError, session } from "../lib/api.js";

export function SignIn({ problem }: { problem: string | null }) {
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { token } = await admin.signIn(password);
      session.signIn(token);
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  }

  return (
    <div className="signin">
      <form className="card signin-card" onSubmit={submit}>
        <h1>Rate limiter</h1>
        <p className="muted">Sign in as the admin to manage tenants, plans and API keys.</p>
        {problem && !error && <p className="notice">{problem}</p>}
        <label>
          Admin password
          <input
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || !password}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
