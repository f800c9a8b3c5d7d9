/**
 * The admin's sign-in: one password (set from ADMIN_PASSWORD on the server's first start, or
 * chosen here). While no admin exists and the server offers it (development), the screen is the
 * first-run form instead, "Choose the admin password", which creates the admin and signs in; if
 * someone else chose it meanwhile, the sign-in form comes back saying so. The server limits
 * sign-in attempts per address; its refusal is shown in words.
 */
import { type FormEvent, useEffect, useState } from "react";
import { ApiError, admin, describeError, session } from "../lib/api.js";
import { MIN_ADMIN_PASSWORD_LENGTH, newPasswordProblem } from "../lib/setup.js";

export function SignIn({ problem }: { problem: string | null }) {
  const [screen, setScreen] = useState<"loading" | "setup" | "sign-in">("loading");
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    admin
      .setupState()
      .then((s) => live && setScreen(s.setupAvailable ? "setup" : "sign-in"))
      // Cannot tell: the sign-in form, whose own call says what is wrong.
      .catch(() => live && setScreen("sign-in"));
    return () => {
      live = false;
    };
  }, []);

  if (screen === "loading") {
    return (
      <div className="signin">
        <div className="card signin-card">
          <h1>Rate limiter</h1>
          <p className="muted">Loading…</p>
        </div>
      </div>
    );
  }
  if (screen === "setup") {
    return (
      <Setup
        onTaken={() => {
          setNotice("Someone else has set the admin password already: sign in with it.");
          setScreen("sign-in");
        }}
      />
    );
  }
  return <SignInForm notice={notice ?? problem} />;
}

function SignInForm({ notice }: { notice: string | null }) {
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
        {notice && !error && <p className="notice">{notice}</p>}
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

/** The first run: the admin password chosen twice alike, then the admin created and signed in. */
function Setup({ onTaken }: { onTaken: () => void }) {
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const problem = newPasswordProblem(password, repeat);
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const { token } = await admin.setup(password);
      session.signIn(token);
    } catch (err) {
      if (err instanceof ApiError && err.code === "admin_exists") {
        onTaken();
        return;
      }
      setError(describeError(err));
      setBusy(false);
    }
  }

  return (
    <div className="signin">
      <form className="card signin-card" onSubmit={submit} aria-label="Choose the admin password">
        <h1>Rate limiter</h1>
        <h2>Choose the admin password</h2>
        <p className="muted">
          No admin exists yet: the password you choose here signs in to this dashboard (tenants,
          plans and API keys). {MIN_ADMIN_PASSWORD_LENGTH} characters or more.
        </p>
        <label>
          New admin password
          <input
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        <label>
          Repeat it
          <input
            type="password"
            autoComplete="new-password"
            value={repeat}
            onChange={(e) => setRepeat(e.target.value)}
            required
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || !password || !repeat}>
          {busy ? "Setting up…" : "Set the password and sign in"}
        </button>
      </form>
    </div>
  );
}
