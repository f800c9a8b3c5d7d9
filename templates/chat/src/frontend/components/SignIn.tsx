/**
 * The sign-in screen, three ways in:
 * - **Sign in**: organisation, username or email, password;
 * - **Create an organisation**: its name, your name, a username and a password (you become its
 *   admin and get its invite link);
 * - **Join** (an invite link, `/join/<code>`): the organisation is shown, then your name, a
 *   username and a password.
 * Every failure is shown in words; buttons say what is happening while a request runs.
 */
import { type FormEvent, useEffect, useState } from "react";
import type { SessionProblem } from "troupe/accounts/client";
import { formProblem, PASSWORD_HINT, type SignInFields } from "troupe/accounts/form";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, slugify } from "troupe/accounts/rules";
import { ActorError } from "troupe/client";
import {
  createOrganisation,
  type InvitePreview,
  joinOrganisation,
  previewInvite,
  type Session,
  signIn,
} from "../lib/api.js";
import { sessionStore } from "../lib/chat.js";
import { describeError } from "../lib/errors.js";
import { linkClick, navigate } from "../lib/router.js";
import { PROBLEM_SENTENCES } from "../lib/session.js";

const LAST_ORG_KEY = "troupe-chat:last-org";

type Mode = "sign-in" | "create";

function lastOrg(): string {
  try {
    return localStorage.getItem(LAST_ORG_KEY) ?? "";
  } catch {
    return "";
  }
}

function rememberOrg(slug: string): void {
  try {
    localStorage.setItem(LAST_ORG_KEY, slug);
  } catch {
    // not essential
  }
}

export function SignIn({
  problem,
  inviteCode,
  signedInAs,
}: {
  problem: SessionProblem | null;
  /** From an invite link: the join form for that organisation. */
  inviteCode?: string;
  /** Someone is signed in already (they opened an invite link): joining replaces the session. */
  signedInAs?: Session | null;
}) {
  const [mode, setMode] = useState<Mode>(lastOrg() ? "sign-in" : "create");
  return (
    <div className="signin-page">
      <div className="signin-card">
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          Troupe chat
        </div>
        {problem && (
          <p className="notice notice-warn" data-testid="auth-error" role="alert">
            {PROBLEM_SENTENCES[problem]}
          </p>
        )}
        {inviteCode !== undefined ? (
          <JoinForm code={inviteCode} signedInAs={signedInAs ?? null} />
        ) : (
          <>
            <div className="signin-tabs" role="tablist" aria-label="How to sign in">
              <button
                type="button"
                role="tab"
                aria-selected={mode === "sign-in"}
                className={mode === "sign-in" ? "active" : ""}
                data-testid="mode-sign-in"
                onClick={() => setMode("sign-in")}
              >
                Sign in
              </button>
              <button
                type="button"
                role="tab"
                aria-selected={mode === "create"}
                className={mode === "create" ? "active" : ""}
                data-testid="mode-create"
                onClick={() => setMode("create")}
              >
                New organisation
              </button>
            </div>
            {mode === "sign-in" ? <SignInForm /> : <CreateForm />}
            <p className="signin-foot muted">
              Joining a team? Open the invite link a member sent you.
            </p>
          </>
        )}
      </div>
    </div>
  );
}

/** Runs a sign-in request with a busy flag and an error in words. */
function useSubmit(run: () => Promise<Session>, after?: (s: Session) => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const session = await run();
      rememberOrg(session.user.org);
      after?.(session);
      sessionStore.signIn(session);
    } catch (err) {
      setError(describeError(err));
      setBusy(false);
    }
  };
  return { busy, error, submit };
}

/** A form problem found before asking the server, shown like the server's own sentences. */
function invalid(message: string): Promise<never> {
  return Promise.reject(new ActorError("invalid_input", message));
}

function SignInForm() {
  const [org, setOrg] = useState(lastOrg);
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, submit } = useSubmit(() => {
    const problem = formProblem("sign-in", { ...NO_FIELDS, org, login, password });
    if (problem) return invalid(problem.message);
    return signIn(org.trim().toLowerCase(), login.trim(), password);
  });

  return (
    <form className="signin-form" onSubmit={submit} noValidate aria-label="Sign in">
      <p className="signin-lead">Welcome back. Sign in to your organisation.</p>
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
          autoComplete="organization"
          maxLength={40}
          required
        />
      </label>
      <label className="field">
        <span>Username or email</span>
        <input
          data-testid="signin-login"
          value={login}
          onChange={(e) => setLogin(e.target.value)}
          autoCapitalize="none"
          autoCorrect="off"
          spellCheck={false}
          autoComplete="username"
          maxLength={254}
          required
        />
      </label>
      <label className="field">
        <span>Password</span>
        <input
          data-testid="signin-password"
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          autoComplete="current-password"
          maxLength={MAX_PASSWORD_LENGTH}
          required
        />
      </label>
      <FormError error={error} />
      <button
        type="submit"
        className="btn btn-primary btn-block"
        data-testid="signin-submit"
        disabled={busy}
      >
        {busy ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}

function CreateForm() {
  const [orgName, setOrgName] = useState("");
  const [account, setAccount] = useState<AccountFields>(EMPTY_ACCOUNT);
  const { busy, error, submit } = useSubmit(() => {
    const problem = createProblem(orgName, account);
    if (problem) return invalid(problem);
    return createOrganisation({ orgName: orgName.trim(), ...trimmed(account) });
  });
  const slug = slugify(orgName);

  return (
    <form className="signin-form" onSubmit={submit} noValidate aria-label="Create an organisation">
      <p className="signin-lead">
        Start a new organisation. You will be its admin, with a link to invite your team.
      </p>
      <label className="field">
        <span>Organisation name</span>
        <input
          data-testid="create-org-name"
          value={orgName}
          onChange={(e) => setOrgName(e.target.value)}
          placeholder="Acme Inc."
          autoComplete="organization"
          maxLength={60}
          required
        />
        <small data-testid="create-org-slug">
          {slug ? (
            <>
              Your organisation will be <strong>{slug}</strong> (you sign in with it).
            </>
          ) : (
            "Letters and digits make its short name, used to sign in."
          )}
        </small>
      </label>
      <AccountInputs value={account} onChange={setAccount} prefix="create" />
      <FormError error={error} />
      <button
        type="submit"
        className="btn btn-primary btn-block"
        data-testid="create-submit"
        disabled={busy}
      >
        {busy ? "Creating…" : "Create organisation"}
      </button>
    </form>
  );
}

function JoinForm({ code, signedInAs }: { code: string; signedInAs: Session | null }) {
  const [preview, setPreview] = useState<InvitePreview | null>(null);
  const [previewError, setPreviewError] = useState<string | null>(null);
  const [account, setAccount] = useState<AccountFields>(EMPTY_ACCOUNT);
  const { busy, error, submit } = useSubmit(
    () => {
      const problem = formProblem("join", { ...NO_FIELDS, ...account });
      if (problem) return invalid(problem.message);
      return joinOrganisation({ code, ...trimmed(account) });
    },
    () => navigate("/", { replace: true }),
  );

  useEffect(() => {
    let cancelled = false;
    previewInvite(code).then(
      (p) => !cancelled && setPreview(p),
      (err) => !cancelled && setPreviewError(describeError(err)),
    );
    return () => {
      cancelled = true;
    };
  }, [code]);

  const leave = linkClick("/");
  if (previewError) {
    return (
      <div className="signin-form">
        <p className="notice notice-error" data-testid="join-error" role="alert">
          {previewError}
        </p>
        <a className="btn btn-ghost btn-block" href="/" onClick={leave}>
          Go to sign-in
        </a>
      </div>
    );
  }
  if (!preview) {
    return (
      <p className="signin-lead" role="status" data-testid="join-loading">
        <span className="spinner" aria-hidden="true" /> Opening the invite link…
      </p>
    );
  }
  return (
    <form className="signin-form" onSubmit={submit} noValidate aria-label="Join the organisation">
      <p className="signin-lead" data-testid="join-org">
        You are invited to join <strong>{preview.org.name}</strong> ({preview.org.slug}).
      </p>
      {signedInAs && (
        <p className="notice notice-warn" role="note">
          You are signed in as {signedInAs.user.name} of {signedInAs.user.org}. Joining signs you in
          with the new account instead.
        </p>
      )}
      <AccountInputs value={account} onChange={setAccount} prefix="join" />
      <FormError error={error} />
      <button
        type="submit"
        className="btn btn-primary btn-block"
        data-testid="join-submit"
        disabled={busy}
      >
        {busy ? "Joining…" : `Join ${preview.org.name}`}
      </button>
      <a className="btn btn-ghost btn-block" href="/" onClick={leave}>
        {signedInAs ? "Back to the chat" : "I already have an account"}
      </a>
    </form>
  );
}

export interface AccountFields {
  displayName: string;
  login: string;
  password: string;
}

const EMPTY_ACCOUNT: AccountFields = { displayName: "", login: "", password: "" };
const NO_FIELDS: SignInFields = { org: "", orgName: "", ...EMPTY_ACCOUNT };

function trimmed(a: AccountFields): AccountFields {
  return { displayName: a.displayName.trim(), login: a.login.trim(), password: a.password };
}

/**
 * What the new-organisation form lacks or gets wrong, the first field from the top (the
 * organisation's name comes before the account's fields): the accounts' shared form checks.
 */
export function createProblem(orgName: string, account: AccountFields): string | null {
  return formProblem("create", { ...NO_FIELDS, orgName, ...account })?.message ?? null;
}

function AccountInputs({
  value,
  onChange,
  prefix,
}: {
  value: AccountFields;
  onChange: (v: AccountFields) => void;
  prefix: string;
}) {
  const set = (field: keyof AccountFields) => (e: { target: { value: string } }) =>
    onChange({ ...value, [field]: e.target.value });
  return (
    <>
      <label className="field">
        <span>Your name</span>
        <input
          data-testid={`${prefix}-name`}
          value={value.displayName}
          onChange={set("displayName")}
          placeholder="Ada Lovelace"
          autoComplete="name"
          maxLength={40}
          required
        />
      </label>
      <label className="field">
        <span>Username or email</span>
        <input
          data-testid={`${prefix}-login`}
          value={value.login}
          onChange={set("login")}
          placeholder="ada"
          autoCapitalize="none"
          autoCorrect="off"
          spellCheck={false}
          autoComplete="username"
          maxLength={254}
          required
        />
      </label>
      <label className="field">
        <span>Password</span>
        <input
          data-testid={`${prefix}-password`}
          type="password"
          value={value.password}
          onChange={set("password")}
          autoComplete="new-password"
          minLength={MIN_PASSWORD_LENGTH}
          maxLength={MAX_PASSWORD_LENGTH}
          required
        />
        <small>{PASSWORD_HINT}</small>
      </label>
    </>
  );
}

function FormError({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p className="notice notice-error" data-testid="signin-error" role="alert">
      {error}
    </p>
  );
}
