/**
 * The scrolling list of messages. It sticks to the bottom while the reader is there (new
 * messages scroll into view) and keeps the reader's place when older messages are added above.
 */
import { Fragment, type KeyboardEvent, useEffect, useLayoutEffect, useRef, useState } from "react";
import type { Message } from "../../actors/index.js";
import type { User } from "../lib/api.js";
import { startsGroup, visibleMessages } from "../lib/messages.js";
import type { PendingMessage } from "../lib/pending.js";
import { collapsedText, linkify } from "../lib/text.js";
import { formatClock, formatDayLabel, formatFull } from "../lib/time.js";
import { Avatar } from "./Avatar.js";
import { Icon } from "./Icon.js";

/** How close to the bottom (px) still counts as "at the bottom". */
const STICK_THRESHOLD = 80;
/** Scrolling this close to the top loads older messages. */
const LOAD_OLDER_THRESHOLD = 40;

export function MessageList({
  messages,
  pending,
  loaded,
  me,
  canLoadOlder,
  loadingOlder,
  onLoadOlder,
  focusMessageId,
  editingId,
  onEditingChange,
  onEdit,
  onDelete,
  onRetryPending,
  onDiscardPending,
}: {
  messages: Message[];
  pending: PendingMessage[];
  loaded: boolean;
  me: User;
  canLoadOlder: boolean;
  loadingOlder: boolean;
  onLoadOlder: () => void;
  focusMessageId: string | null;
  /** The message being edited (its id), or null: one at a time, ArrowUp in the composer sets it. */
  editingId: string | null;
  onEditingChange: (id: string | null) => void;
  onEdit: (id: string, text: string) => Promise<boolean>;
  onDelete: (id: string) => Promise<void>;
  onRetryPending: (clientId: string) => void;
  onDiscardPending: (clientId: string) => void;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const firstId = useRef<string | undefined>(undefined);
  const lastHeight = useRef(0);
  const [highlight, setHighlight] = useState<string | null>(null);
  const focusDone = useRef(false);
  const focusPages = useRef(0);
  const shown = visibleMessages(messages);
  /** Messages that arrived below while the reader was scrolled up (for "N new messages ↓"). */
  const [unseen, setUnseen] = useState(0);
  const lastSeq = useRef<number | undefined>(undefined);
  const pendingCount = useRef(0);

  // Keep the place when older messages are prepended; else follow the bottom if we were there.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs after every change of the list.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const newFirst = messages[0]?.id;
    const prepended = firstId.current !== undefined && newFirst !== firstId.current;
    // Sending your own message brings you to the bottom, wherever you were.
    if (pending.length > pendingCount.current) atBottom.current = true;
    pendingCount.current = pending.length;
    const newLast = messages.at(-1)?.seq;
    if (lastSeq.current !== undefined && newLast !== undefined && newLast > lastSeq.current) {
      const before = lastSeq.current;
      const arrived = messages.filter(
        (m) => m.seq > before && m.deletedAt === null && m.authorId !== me.id,
      ).length;
      if (!atBottom.current && arrived > 0) setUnseen((n) => n + arrived);
    }
    if (newLast !== undefined) lastSeq.current = newLast;
    if (prepended && !atBottom.current) {
      el.scrollTop += el.scrollHeight - lastHeight.current;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    firstId.current = newFirst;
    lastHeight.current = el.scrollHeight;
  }, [messages, pending, loaded]);

  // The list shrinks when the composer grows (send-later panel, errors): stay at the bottom.
  useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // A search result links to a message: bring it into view (loading older pages if needed).
  // biome-ignore lint/correctness/useExhaustiveDependencies: look again whenever the messages change.
  useEffect(() => {
    if (!focusMessageId || focusDone.current || !loaded) return;
    const el = scroller.current?.querySelector(`[data-message-id="${CSS.escape(focusMessageId)}"]`);
    if (el) {
      focusDone.current = true;
      atBottom.current = false;
      el.scrollIntoView({ block: "center" });
      setHighlight(focusMessageId);
      const t = setTimeout(() => setHighlight(null), 2500);
      return () => clearTimeout(t);
    }
    if (canLoadOlder && !loadingOlder && focusPages.current < 20) {
      focusPages.current++;
      onLoadOlder();
    }
  }, [focusMessageId, loaded, messages, canLoadOlder, loadingOlder, onLoadOlder]);

  // Scrolling to the top loads older messages only when a person scrolled (wheel, touch, keys,
  // the scrollbar), not when a script brought an element into view.
  const lastIntent = useRef(0);
  const loadIfAtTop = useRef(() => {});
  useEffect(() => {
    loadIfAtTop.current = () => {
      const el = scroller.current;
      if (el && el.scrollTop < LOAD_OLDER_THRESHOLD && canLoadOlder && !loadingOlder) onLoadOlder();
    };
  });
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const intent = (e: Event) => {
      lastIntent.current = Date.now();
      // Already at the top, a scroll upwards moves nothing (no scroll event): load from here.
      if ((e.type === "wheel" && (e as WheelEvent).deltaY < 0) || e.type === "touchmove") {
        loadIfAtTop.current();
      }
    };
    const events = ["wheel", "touchmove", "pointerdown", "keydown"] as const;
    for (const e of events) el.addEventListener(e, intent, { passive: true });
    return () => {
      for (const e of events) el.removeEventListener(e, intent);
    };
  }, []);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_THRESHOLD;
    if (atBottom.current) setUnseen(0);
    lastHeight.current = el.scrollHeight;
    if (Date.now() - lastIntent.current < 1000) loadIfAtTop.current();
  };

  const jumpToLatest = () => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = true;
    setUnseen(0);
    el.scrollTo({ top: el.scrollHeight, behavior: "smooth" });
  };

  return (
    <div className="message-list-wrap">
      <div
        className="message-list"
        data-testid="message-list"
        ref={scroller}
        onScroll={onScroll}
        role="log"
        aria-live="polite"
        aria-label="Messages"
        aria-busy={!loaded}
      >
        {canLoadOlder && (
          <div className="load-older-row">
            <button
              type="button"
              className="btn btn-ghost btn-small"
              data-testid="load-older"
              onClick={onLoadOlder}
              disabled={loadingOlder}
            >
              {loadingOlder ? "Loading…" : "Load older messages"}
            </button>
          </div>
        )}
        {!loaded ? (
          <div className="loading-messages" role="status" aria-label="Loading messages">
            {[60, 80, 45].map((w) => (
              <div key={w} className="skeleton-message">
                <span className="skeleton skeleton-avatar" />
                <span className="skeleton" style={{ width: `${w}%` }} />
              </div>
            ))}
          </div>
        ) : shown.length === 0 && pending.length === 0 ? (
          <div className="empty" data-testid="messages-empty">
            <div className="empty-icon" aria-hidden="true">
              <Icon name="chat" size={22} />
            </div>
            <p>
              <strong>No messages yet.</strong>
              <br />
              Say hello: the first message starts the conversation.
            </p>
          </div>
        ) : (
          <div className="message-stack">
            {!canLoadOlder && shown.length > 0 && (
              <div className="history-start">This is the start of the room.</div>
            )}
            <ol className="messages">
              {shown.map((m, i) => {
                const previous = shown[i - 1];
                const newDay =
                  !previous ||
                  new Date(previous.createdAt).toDateString() !==
                    new Date(m.createdAt).toDateString();
                return (
                  <Fragment key={m.id}>
                    {newDay && (
                      <li className="day-divider" aria-hidden="true">
                        <span>{formatDayLabel(m.createdAt, Date.now())}</span>
                      </li>
                    )}
                    <MessageItem
                      message={m}
                      grouped={!startsGroup(previous, m)}
                      mine={m.authorId === me.id}
                      highlighted={highlight === m.id}
                      editing={editingId === m.id}
                      onEditingChange={onEditingChange}
                      onEdit={onEdit}
                      onDelete={onDelete}
                    />
                  </Fragment>
                );
              })}
              {pending.map((p) => (
                <li
                  key={p.clientId}
                  className={`message grouped pending${p.status === "failed" ? " failed" : ""}`}
                  data-testid="message-pending"
                  data-status={p.status}
                >
                  <div className="message-gutter" />
                  <div className="message-body">
                    <div className="message-line">
                      <span className="message-text" data-testid="pending-text">
                        <MessageText text={p.text} />
                      </span>
                    </div>
                    {p.status === "sending" ? (
                      <div className="message-status">Sending…</div>
                    ) : (
                      <div className="message-status message-status-failed" role="alert">
                        <span>{p.error ?? "Not sent."}</span>
                        <button
                          type="button"
                          className="btn btn-ghost btn-small"
                          data-testid="pending-retry"
                          onClick={() => onRetryPending(p.clientId)}
                        >
                          Retry
                        </button>
                        <button
                          type="button"
                          className="btn btn-ghost btn-small"
                          data-testid="pending-discard"
                          onClick={() => onDiscardPending(p.clientId)}
                        >
                          Discard
                        </button>
                      </div>
                    )}
                  </div>
                </li>
              ))}
            </ol>
          </div>
        )}
      </div>
      {unseen > 0 && (
        <button
          type="button"
          className="jump-latest"
          data-testid="jump-latest"
          onClick={jumpToLatest}
        >
          {unseen === 1 ? "1 new message" : `${unseen} new messages`} ↓
        </button>
      )}
    </div>
  );
}

function MessageItem({
  message: m,
  grouped,
  mine,
  highlighted,
  editing,
  onEditingChange,
  onEdit,
  onDelete,
}: {
  message: Message;
  grouped: boolean;
  mine: boolean;
  highlighted: boolean;
  editing: boolean;
  onEditingChange: (id: string | null) => void;
  onEdit: (id: string, text: string) => Promise<boolean>;
  onDelete: (id: string) => Promise<void>;
}) {
  const setEditing = (on: boolean) => onEditingChange(on ? m.id : null);
  const [draft, setDraft] = useState(m.text);
  const [expanded, setExpanded] = useState(false);
  const item = useRef<HTMLLIElement>(null);
  // Editing started elsewhere (ArrowUp in the composer): start from the current text, in view.
  useEffect(() => {
    if (!editing) return;
    setDraft(m.text);
    item.current?.scrollIntoView?.({ block: "nearest" });
  }, [editing, m.text]);
  const short = collapsedText(m.text);
  const [busy, setBusy] = useState(false);

  const save = async () => {
    const text = draft.trim();
    if (!text || busy) return;
    if (text === m.text) {
      setEditing(false);
      return;
    }
    setBusy(true);
    const ok = await onEdit(m.id, text);
    setBusy(false);
    if (ok) setEditing(false);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void save();
    } else if (e.key === "Escape") {
      setEditing(false);
    }
  };

  return (
    <li
      className={`message${grouped ? " grouped" : ""}${mine ? " mine" : ""}${highlighted ? " highlighted" : ""}`}
      data-testid="message"
      data-author={m.authorName}
      data-message-id={m.id}
      id={`m-${m.id}`}
      ref={item}
    >
      <div className="message-gutter">
        {grouped ? (
          <time className="message-time-hover" dateTime={new Date(m.createdAt).toISOString()}>
            {formatClock(m.createdAt)}
          </time>
        ) : (
          <Avatar id={m.authorId} name={m.authorName} />
        )}
      </div>
      <div className="message-body">
        {!grouped && (
          <div className="message-head">
            <span className="message-author">{m.authorName}</span>
            <time
              className="message-time"
              dateTime={new Date(m.createdAt).toISOString()}
              title={formatFull(m.createdAt)}
            >
              {formatClock(m.createdAt)}
            </time>
          </div>
        )}
        {editing ? (
          <div className="edit-box">
            <textarea
              data-testid="edit-input"
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={onKeyDown}
              rows={Math.min(6, draft.split("\n").length + 1)}
              maxLength={4000}
              aria-label="Edit message"
              // biome-ignore lint/a11y/noAutofocus: editing starts from a click on "Edit"
              autoFocus
            />
            <div className="row">
              <button
                type="button"
                className="btn btn-primary btn-small"
                data-testid="edit-save"
                onClick={save}
                disabled={busy || !draft.trim()}
              >
                {busy ? "Saving…" : "Save"}
              </button>
              <button
                type="button"
                className="btn btn-ghost btn-small"
                onClick={() => setEditing(false)}
              >
                Cancel
              </button>
              <span className="muted hint">Enter to save · Esc to cancel</span>
            </div>
          </div>
        ) : (
          <div className="message-line">
            <span className="message-text" data-testid="message-text">
              <MessageText text={short !== null && !expanded ? short : m.text} />
            </span>
            {short !== null && (
              <button
                type="button"
                className="show-more"
                data-testid="show-more"
                aria-expanded={expanded}
                onClick={() => setExpanded(!expanded)}
              >
                {expanded ? "Show less" : "Show more"}
              </button>
            )}
            {m.editedAt !== null && (
              <span className="edited" title={`Edited ${formatFull(m.editedAt)}`}>
                (edited)
              </span>
            )}
          </div>
        )}
      </div>
      {mine && !editing && (
        <div className="message-actions">
          <button
            type="button"
            className="icon-btn"
            data-testid="edit-message"
            title="Edit"
            aria-label="Edit message"
            onClick={() => {
              setDraft(m.text);
              setEditing(true);
            }}
          >
            <Icon name="edit" />
          </button>
          <button
            type="button"
            className="icon-btn danger"
            data-testid="delete-message"
            title="Delete"
            aria-label="Delete message"
            onClick={() => void onDelete(m.id)}
          >
            <Icon name="trash" />
          </button>
        </div>
      )}
    </li>
  );
}

/** A message's text: plain text, with http(s) addresses as links that open in a new tab. */
export function MessageText({ text }: { text: string }) {
  return (
    <>
      {linkify(text).map((part, i) =>
        part.kind === "link" ? (
          <a
            // biome-ignore lint/suspicious/noArrayIndexKey: parts of one immutable text, in order.
            key={i}
            href={part.href}
            target="_blank"
            rel="noopener noreferrer"
            data-testid="message-link"
          >
            {part.text}
          </a>
        ) : (
          // biome-ignore lint/suspicious/noArrayIndexKey: parts of one immutable text, in order.
          <Fragment key={i}>{part.text}</Fragment>
        ),
      )}
    </>
  );
}
