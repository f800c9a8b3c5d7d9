/**
 * The way in, three forms over `troupe/accounts/client` (the same account routes as the chat):
 * sign in to an organisation, create one (you become its admin), or join one from an invite
 * link (`/join/<code>`, the organisation is shown first). Failures are shown in words.
 */
import { type FormEvent, useEffect, useState } from "react";
import {
  createOrganisation,
  type InvitePreview,
  joinOrganisation,
  previewInvite,
  type SessionProblem,
  signIn,
} from "troupe/accounts/client";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, slugify } from "troupe/accounts/rules";
import { describeError, PROBLEM_SENTENCES, sessionStore } from "../lib/client.js";

type Mode = "sign-in" | "create" | "join";

/** The workspace this browser last entered: its sign-in form comes first, filled in. */
const LAST_WORKSPACE_KEY = "troupe-ai-agent:last-workspace";

function lastWorkspace(): string {
  try {
    return localStorage.getItem(LAST_WORKSPACE_KEY) ?? "";
  } catch {
    return "";
  }
}

function rememberWorkspace(slug: string): void {
  try {
    localStorage.setItem(LAST_WORKSPACE_KEY, slug);
  } catch {
    // not essential
  }
}

export function SignIn({
  problem,
  inviteCode,
}: {
  problem: SessionProblem | null;
  inviteCode?: string;
}) {
  // A browser that never entered a workspace starts at "Create a workspace", as a first
  // person would; one that has starts at its sign-in.
  const [mode, setMode] = useState<Mode>(
    inviteCode ? "join" : lastWorkspace() ? "sign-in" : "create",
  );
  const [org, setOrg] = useState(lastWorkspace);
  const [orgName, setOrgName] = useState("");
  const [name, setName] = useState("");
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [invite, setInvite] = useState<InvitePreview | null>(null);

  useEffect(() => {
    if (!inviteCode) return;
    previewInvite(inviteCode).then(setInvite, (err) => setError(describeError(err)));
  }, [inviteCode]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session =
        mode === "sign-in"
          ? await signIn(org.trim(), login.trim(), password)
          : mode === "create"
            ? await createOrganisation({ orgName, displayName: name, login, password })
            : await joinOrganisation({ code: inviteCode!, displayName: name, login, password });
      sessionStore.signIn(session);
      rememberWorkspace(session.user.org);
      if (mode === "join") {
        // Joined: the app's own address, not the invite link (App follows popstate).
        window.history.replaceState(null, "", "/");
        window.dispatchEvent(new PopStateEvent("popstate"));
      }
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  }

  const passwordField = (
    <label>
      Password
      <input
        type="password"
        name="password"
        autoComplete={mode === "sign-in" ? "current-password" : "new-password"}
        minLength={mode === "sign-in" ? undefined : MIN_PASSWORD_LENGTH}
        maxLength={MAX_PASSWORD_LENGTH}
        required
        value={password}
        onChange={(e) => setPassword(e.target.value)}
      />
    </label>
  );
  const loginField = (
    <label>
      Username or email
      <input
        name="login"
        autoComplete="username"
        required
        value={login}
        onChange={(e) => setLogin(e.target.value)}
      />
    </label>
  );
  const nameField = (
    <label>
      Your name
      <input name="displayName" required value={name} onChange={(e) => setName(e.target.value)} />
    </label>
  );

  return (
    <main className="signin">
      <form className="card signin-card" onSubmit={submit} aria-label="Sign in">
        <h1>Troupe AI agent</h1>
        <p className="muted">
          An assistant that streams its answers, uses tools with your approval and reminds you
          later.
        </p>
        {problem && <p className="notice">{PROBLEM_SENTENCES[problem]}</p>}
        {mode !== "join" && (
          <div className="tabs" role="tablist">
            <button
              type="button"
              role="tab"
              aria-selected={mode === "sign-in"}
              onClick={() => setMode("sign-in")}
            >
              Sign in
            </button>
            <button
              type="button"
              role="tab"
              aria-selected={mode === "create"}
              onClick={() => setMode("create")}
            >
              Create a workspace
            </button>
          </div>
        )}
        {mode === "join" && (
          <p>
            {invite ? (
              <>
                Join <strong>{invite.org.name}</strong>
              </>
            ) : (
              "Checking the invite…"
            )}
          </p>
        )}
        {mode === "sign-in" && (
          <label>
            Workspace
            <input
              name="org"
              required
              placeholder="acme"
              value={org}
              onChange={(e) => setOrg(e.target.value)}
            />
          </label>
        )}
        {mode === "create" && (
          <label>
            Workspace name
            <input
              name="orgName"
              required
              value={orgName}
              onChange={(e) => setOrgName(e.target.value)}
            />
            {orgName && <small className="muted">Its address: {slugify(orgName)}</small>}
          </label>
        )}
        {mode !== "sign-in" && nameField}
        {loginField}
        {passwordField}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button className="primary" type="submit" disabled={busy}>
          {busy
            ? "Please wait…"
            : mode === "sign-in"
              ? "Sign in"
              : mode === "create"
                ? "Create workspace"
                : "Join"}
        </button>
      </form>
    </main>
  );
}
