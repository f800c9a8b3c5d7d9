/**
 * The organisation's invite link, at the bottom of the room list: every member can see and copy
 * it (to bring a colleague in); an admin can replace it with a new one, which stops the old link.
 */
import { useEffect, useState } from "react";
import { currentInvite, type Invite, inviteLink, type Role, renewInvite } from "../lib/api.js";
import { sessionStore } from "../lib/chat.js";
import { describeError } from "../lib/errors.js";
import { formatDate } from "../lib/time.js";

export function InvitePanel({ role }: { role: Role | undefined }) {
  const [open, setOpen] = useState(false);
  const [invite, setInvite] = useState<Invite | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState(false);

  useEffect(() => {
    if (!open) return;
    let cancelled = false;
    setError(null);
    sessionStore
      .freshToken()
      .then(currentInvite)
      .then(
        (r) => !cancelled && setInvite(r.invite),
        (err) => !cancelled && setError(describeError(err)),
      );
    return () => {
      cancelled = true;
    };
  }, [open]);

  const renew = async () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      setInvite((await renewInvite(await sessionStore.freshToken())).invite);
      setCopied(false);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  const link = invite ? inviteLink(invite.code) : "";
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link);
      setCopied(true);
    } catch {
      // No clipboard permission (an http page, say): the link is selected to copy by hand.
      (document.querySelector("[data-testid=invite-link]") as HTMLInputElement | null)?.select();
    }
  };

  return (
    <section className="invite" aria-label="Invite people">
      <button
        type="button"
        className="btn btn-ghost btn-block invite-toggle"
        data-testid="invite-toggle"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
      >
        {open ? "Hide invite link" : "Invite people"}
      </button>
      {open && (
        <div className="invite-body" data-testid="invite-panel">
          {invite === undefined && !error && (
            <p className="muted" role="status">
              Loading the invite link…
            </p>
          )}
          {invite && (
            <>
              <p className="invite-lead">Anyone with this link can join your organisation.</p>
              <div className="invite-row">
                <input
                  data-testid="invite-link"
                  readOnly
                  value={link}
                  aria-label="Invite link"
                  onFocus={(e) => e.target.select()}
                />
                <button
                  type="button"
                  className="btn btn-primary btn-small"
                  data-testid="invite-copy"
                  onClick={copy}
                >
                  {copied ? "Copied" : "Copy"}
                </button>
              </div>
              <p className="muted invite-expiry" data-testid="invite-expiry">
                Works until {formatDate(invite.expiresAt, Date.now())}
                {role === "admin" ? ". A new link stops this one." : "."}
              </p>
            </>
          )}
          {invite === null && (
            <p className="muted" data-testid="invite-none">
              {role === "admin"
                ? "There is no working invite link. Make a new one."
                : "The invite link has expired. Ask an admin for a new one."}
            </p>
          )}
          {role === "admin" && invite !== undefined && (
            <button
              type="button"
              className="btn btn-ghost btn-small"
              data-testid="invite-renew"
              disabled={busy}
              onClick={renew}
            >
              {busy ? "Making a new link…" : "Make a new link"}
            </button>
          )}
          {error && (
            <p className="notice notice-error" data-testid="invite-error" role="alert">
              {error}
            </p>
          )}
        </div>
      )}
    </section>
  );
}
