/**
 * The way in, three forms over `troupe/accounts/client` (the same account routes as the chat):
 * sign in to an organisation, create one (you become its admin), or join one from an invite
 * link (`/join/<code>`, the organisation is shown first). Failures are shown in words, in the
 * page: a field left empty or wrong is reported (top to bottom, the first one) and focused before
 * anything is sent, as in the chat's sign-in; the server's refusals read the same way.
 */
import { type FormEvent, useEffect, useRef, useState } from "react";
import {
  createOrganisation,
  type InvitePreview,
  joinOrganisation,
  previewInvite,
  type SessionProblem,
  signIn,
} from "troupe/accounts/client";
import {
  formProblem,
  type SignInMode as Mode,
  PASSWORD_HINT,
  type SignInField,
} from "troupe/accounts/form";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, slugify } from "troupe/accounts/rules";
import { describeError, PROBLEM_SENTENCES, sessionStore } from "../lib/client.js";

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
  // The field the error is about (checked in the page), marked and focused.
  const [invalid, setInvalid] = useState<SignInField | null>(null);
  const form = useRef<HTMLFormElement>(null);
  const [invite, setInvite] = useState<InvitePreview | null>(null);

  useEffect(() => {
    if (!inviteCode) return;
    previewInvite(inviteCode).then(setInvite, (err) => setError(describeError(err)));
  }, [inviteCode]);

  function switchMode(next: Mode) {
    setMode(next);
    setError(null);
    setInvalid(null);
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    const problem = formProblem(
      mode,
      { org, orgName, displayName: name, login, password },
      { org: "workspace" },
    );
    setError(problem?.message ?? null);
    setInvalid(problem?.field ?? null);
    if (problem) {
      const input = form.current?.elements.namedItem(problem.field);
      if (input instanceof HTMLInputElement) input.focus();
      return;
    }
    setBusy(true);
    const account = { displayName: name.trim(), login: login.trim(), password };
    try {
      const session =
        mode === "sign-in"
          ? await signIn(org.trim(), login.trim(), password)
          : mode === "create"
            ? await createOrganisation({ orgName: orgName.trim(), ...account })
            : await joinOrganisation({ code: inviteCode!, ...account });
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

  // The field the message is about says so to assistive technology, and points at it.
  const marks = (field: SignInField) =>
    invalid === field
      ? { "aria-invalid": true as const, "aria-describedby": "signin-error" }
      : { "aria-invalid": false as const };
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
        {...marks("password")}
      />
      {mode !== "sign-in" && <small className="muted">{PASSWORD_HINT}</small>}
    </label>
  );
  const loginField = (
    <label>
      Username or email
      <input
        name="login"
        autoComplete="username"
        autoCapitalize="none"
        autoCorrect="off"
        spellCheck={false}
        required
        value={login}
        onChange={(e) => setLogin(e.target.value)}
        {...marks("login")}
      />
    </label>
  );
  const nameField = (
    <label>
      Your name
      <input
        name="displayName"
        autoComplete="name"
        required
        value={name}
        onChange={(e) => setName(e.target.value)}
        {...marks("displayName")}
      />
    </label>
  );

  return (
    <main className="signin">
      <form
        ref={form}
        className="card signin-card"
        onSubmit={submit}
        noValidate
        aria-label={
          mode === "sign-in" ? "Sign in" : mode === "create" ? "Create a workspace" : "Join"
        }
      >
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
              onClick={() => switchMode("sign-in")}
            >
              Sign in
            </button>
            <button
              type="button"
              role="tab"
              aria-selected={mode === "create"}
              onClick={() => switchMode("create")}
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
              {...marks("org")}
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
              {...marks("orgName")}
            />
            {orgName && <small className="muted">Its address: {slugify(orgName)}</small>}
          </label>
        )}
        {mode !== "sign-in" && nameField}
        {loginField}
        {passwordField}
        {error && (
          <p className="notice notice-error" id="signin-error" role="alert">
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
