import { type FormEvent, useState } from "react";
import { signIn } from "../lib/api.js";
import { sessionStore } from "../lib/chat.js";
import { describeError } from "../lib/errors.js";
import { PROBLEM_SENTENCES, type SessionProblem } from "../lib/session.js";

const LAST_ORG_KEY = "troupe-chat:last-org";

function lastOrg(): string {
  try {
    return localStorage.getItem(LAST_ORG_KEY) ?? "";
  } catch {
    return "";
  }
}

export function SignIn({ problem }: { problem: SessionProblem | null }) {
  const [name, setName] = useState("");
  const [org, setOrg] = useState(lastOrg);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    const slug = org.trim().toLowerCase();
    try {
      const session = await signIn(name.trim(), slug);
      try {
        localStorage.setItem(LAST_ORG_KEY, slug);
      } catch {
        // not essential
      }
      sessionStore.signIn(session);
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };

  return (
    <div className="signin-page">
      <form className="signin-card" onSubmit={submit} noValidate>
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          Troupe chat
        </div>
        <p className="signin-lead">Talk with your team in real time. No password needed.</p>
        {problem && (
          <p className="notice notice-warn" data-testid="auth-error" role="alert">
            {PROBLEM_SENTENCES[problem]}
          </p>
        )}
        <label className="field">
          <span>Your name</span>
          <input
            data-testid="signin-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="Ada Lovelace"
            autoComplete="name"
            maxLength={40}
            required
            // biome-ignore lint/a11y/noAutofocus: the only thing to do on this screen
            autoFocus
          />
        </label>
        <label className="field">
          <span>Organisation</span>
          <input
            data-testid="signin-org"
            value={org}
            onChange={(e) => setOrg(e.target.value)}
            placeholder="acme"
            autoCapitalize="none"
            autoCorrect="off"
            spellCheck={false}
            maxLength={40}
            required
          />
          <small>
            Lower-case letters, digits and dashes. Everyone with the same one shares rooms.
          </small>
        </label>
        {error && (
          <p className="notice notice-error" data-testid="signin-error" role="alert">
            {error}
          </p>
        )}
        <button
          type="submit"
          className="btn btn-primary btn-block"
          data-testid="signin-submit"
          disabled={busy}
        >
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
