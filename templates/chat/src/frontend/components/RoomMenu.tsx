/**
 * The room's menu, in its header: rename and delete (for the room's creator and the
 * organisation's admins; the server checks again) and leave (anyone). Rename and delete open a
 * dialog; delete asks for confirmation. Errors are shown in the dialog, in words.
 */
import { type FormEvent, useEffect, useRef, useState } from "react";
import { useChatActor } from "../lib/chat.js";
import { describeError } from "../lib/errors.js";
import { navigate } from "../lib/router.js";

export function RoomMenu({
  org,
  roomId,
  name,
  canManage,
  onLeave,
}: {
  org: string;
  roomId: string;
  name: string;
  canManage: boolean;
  /** Leaves the room; rejects with the server's error. */
  onLeave: () => Promise<unknown>;
}) {
  const list = useChatActor("chatRoomList", [org]);
  const [open, setOpen] = useState(false);
  const [dialog, setDialog] = useState<"rename" | "delete" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const menuRef = useRef<HTMLDivElement>(null);

  // A click elsewhere or Escape closes the menu.
  useEffect(() => {
    if (!open) return;
    const onDown = (e: PointerEvent) => {
      if (!menuRef.current?.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    document.addEventListener("pointerdown", onDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("pointerdown", onDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);

  const show = (which: "rename" | "delete") => {
    setOpen(false);
    setError(null);
    setDialog(which);
  };

  const run = async (action: () => Promise<unknown>, after: () => void) => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await action();
      after();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  const conn = list.connection;
  const notConnected = () => Promise.reject({ code: "connection_unavailable" });

  return (
    <div className="room-menu" ref={menuRef}>
      <button
        type="button"
        className="icon-btn room-menu-button"
        data-testid="room-menu"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label="Room options"
        onClick={() => setOpen((o) => !o)}
      >
        <span aria-hidden="true">⋯</span>
      </button>
      {open && (
        <div className="menu" role="menu">
          {canManage && (
            <button
              type="button"
              role="menuitem"
              data-testid="room-menu-rename"
              onClick={() => show("rename")}
            >
              Rename room
            </button>
          )}
          <button
            type="button"
            role="menuitem"
            data-testid="room-menu-leave"
            onClick={() => {
              setOpen(false);
              void run(onLeave, () => navigate("/"));
            }}
          >
            Leave room
          </button>
          {canManage && (
            <button
              type="button"
              role="menuitem"
              className="danger"
              data-testid="room-menu-delete"
              onClick={() => show("delete")}
            >
              Delete room…
            </button>
          )}
        </div>
      )}
      {error && !dialog && (
        <p className="notice notice-error menu-error" data-testid="room-menu-error" role="alert">
          {error}
        </p>
      )}
      {dialog === "rename" && (
        <RenameDialog
          name={name}
          busy={busy}
          error={error}
          onCancel={() => setDialog(null)}
          onSave={(newName) =>
            run(
              () => (conn ? conn.renameRoom(roomId, newName) : notConnected()),
              () => setDialog(null),
            )
          }
        />
      )}
      {dialog === "delete" && (
        <div className="dialog-backdrop">
          <div
            className="dialog"
            role="alertdialog"
            aria-modal="true"
            aria-labelledby="delete-room-title"
            data-testid="delete-dialog"
          >
            <h2 id="delete-room-title">Delete #{name}?</h2>
            <p>
              The room and its messages disappear for everyone, and search stops finding them. This
              cannot be undone.
            </p>
            {error && (
              <p className="notice notice-error" data-testid="dialog-error" role="alert">
                {error}
              </p>
            )}
            <div className="dialog-actions">
              <button type="button" className="btn btn-ghost" onClick={() => setDialog(null)}>
                Cancel
              </button>
              <button
                type="button"
                className="btn btn-danger"
                data-testid="delete-confirm"
                disabled={busy}
                onClick={() =>
                  run(
                    () => (conn ? conn.deleteRoom(roomId) : notConnected()),
                    () => {
                      setDialog(null);
                      navigate("/");
                    },
                  )
                }
              >
                {busy ? "Deleting…" : "Delete room"}
              </button>
            </div>
          </div>
        </div>
      )}
    </div>
  );
}

function RenameDialog({
  name,
  busy,
  error,
  onCancel,
  onSave,
}: {
  name: string;
  busy: boolean;
  error: string | null;
  onCancel: () => void;
  onSave: (name: string) => void;
}) {
  const [value, setValue] = useState(name);
  const [problem, setProblem] = useState<string | null>(null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!value.trim()) {
      setProblem("Give the room a name.");
      return;
    }
    setProblem(null);
    onSave(value);
  };
  const shown = problem ?? error;
  return (
    <div className="dialog-backdrop">
      <form
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="rename-room-title"
        data-testid="rename-dialog"
        onSubmit={submit}
        onKeyDown={(e) => e.key === "Escape" && onCancel()}
      >
        <h2 id="rename-room-title">Rename #{name}</h2>
        <input
          data-testid="rename-input"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          aria-label="New name"
          maxLength={60}
          // biome-ignore lint/a11y/noAutofocus: the dialog exists to type this name.
          autoFocus
        />
        {shown && (
          <p className="notice notice-error" data-testid="dialog-error" role="alert">
            {shown}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" className="btn btn-ghost" onClick={onCancel}>
            Cancel
          </button>
          <button
            type="submit"
            className="btn btn-primary"
            data-testid="rename-save"
            disabled={busy}
          >
            {busy ? "Saving…" : "Rename"}
          </button>
        </div>
      </form>
    </div>
  );
}
