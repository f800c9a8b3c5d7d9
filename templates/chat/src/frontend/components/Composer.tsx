/**
 * Where messages are written: Enter sends, Shift+Enter starts a new line. While the text changes,
 * `typing()` goes to the room at most every TYPING_THROTTLE_MS (the server shows the indicator
 * for 4 s after each call). "Later" opens a time picker to schedule the text instead.
 */
import {
  type ClipboardEvent,
  type FormEvent,
  type KeyboardEvent,
  type RefObject,
  useRef,
  useState,
} from "react";
import {
  defaultScheduleTime,
  formatScheduled,
  parseDateTimeLocal,
  toDateTimeLocal,
} from "../lib/time.js";
import { Icon } from "./Icon.js";

/** At most one `typing()` call per this many ms while typing. */
export const TYPING_THROTTLE_MS = 2000;
/** Longest message, as the room checks it (`MAX_MESSAGE_LENGTH`). */
export const MAX_LENGTH = 4000;

export function Composer({
  roomName,
  disabled,
  onSend,
  onSendLater,
  onTyping,
  onInvalid,
  onEditLast,
  inputRef,
}: {
  roomName: string;
  disabled: boolean;
  onSend: (text: string) => Promise<boolean>;
  onSendLater: (text: string, at: number) => Promise<boolean>;
  onTyping: () => void;
  onInvalid: (message: string) => void;
  /** ArrowUp in the empty composer: edit my last message. False when there is none. */
  onEditLast?: () => boolean;
  /** The textarea, for the room to focus it. */
  inputRef?: RefObject<HTMLTextAreaElement | null>;
}) {
  const [text, setText] = useState("");
  const [laterOpen, setLaterOpen] = useState(false);
  const [laterValue, setLaterValue] = useState(() =>
    toDateTimeLocal(defaultScheduleTime(Date.now())),
  );
  const [scheduling, setScheduling] = useState(false);
  const lastTyping = useRef(0);
  const ownInput = useRef<HTMLTextAreaElement>(null);
  const input = inputRef ?? ownInput;
  /** How many pasted characters did not fit the length limit (for the notice), or 0. */
  const [pasteCut, setPasteCut] = useState(0);

  const change = (value: string) => {
    setText(value);
    if (!value) setPasteCut(0);
    const now = Date.now();
    if (value.trim() && now - lastTyping.current >= TYPING_THROTTLE_MS) {
      lastTyping.current = now;
      onTyping();
    }
  };

  const send = async (e?: FormEvent) => {
    e?.preventDefault();
    const body = text.trim();
    if (!body || disabled) return;
    setText("");
    setPasteCut(0);
    lastTyping.current = 0;
    input.current?.focus();
    const ok = await onSend(body);
    // Give the text back if it did not go out (unless something new was typed meanwhile).
    if (!ok) setText((current) => (current ? current : body));
  };

  const schedule = async () => {
    const body = text.trim();
    const at = parseDateTimeLocal(laterValue);
    if (!body) {
      onInvalid("Write the message first, then pick when to send it.");
      return;
    }
    if (at === null) {
      onInvalid("Pick a date and time to send it.");
      return;
    }
    if (at <= Date.now()) {
      onInvalid("Pick a time in the future.");
      return;
    }
    setScheduling(true);
    const ok = await onSendLater(body, at);
    setScheduling(false);
    if (ok) {
      setText("");
      setLaterOpen(false);
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      if (laterOpen) void schedule();
      else void send();
    } else if (
      e.key === "ArrowUp" &&
      text === "" &&
      !e.shiftKey &&
      !e.altKey &&
      !e.ctrlKey &&
      !e.metaKey &&
      !e.nativeEvent.isComposing &&
      onEditLast?.()
    ) {
      e.preventDefault();
    }
  };

  // The browser would cut a paste at maxLength without a word: do it here, and say so.
  const onPaste = (e: ClipboardEvent<HTMLTextAreaElement>) => {
    const pasted = e.clipboardData.getData("text/plain");
    const el = e.currentTarget;
    const start = el.selectionStart ?? text.length;
    const end = el.selectionEnd ?? text.length;
    const room = MAX_LENGTH - (text.length - (end - start));
    if (pasted.length <= room) return;
    e.preventDefault();
    const kept = pasted.slice(0, Math.max(0, room));
    change(text.slice(0, start) + kept + text.slice(end));
    setPasteCut(pasted.length - kept.length);
    const caret = start + kept.length;
    requestAnimationFrame(() => el.setSelectionRange(caret, caret));
  };

  const rows = Math.min(6, Math.max(1, text.split("\n").length));
  const at = parseDateTimeLocal(laterValue);

  return (
    <form className="composer" onSubmit={send}>
      {laterOpen && (
        <div className="send-later">
          <label>
            <span>Send at</span>
            <input
              type="datetime-local"
              data-testid="send-later-time"
              value={laterValue}
              min={toDateTimeLocal(Date.now())}
              onChange={(e) => setLaterValue(e.target.value)}
            />
          </label>
          <span className="muted send-later-when">
            {at !== null && at > Date.now() ? formatScheduled(at, Date.now()) : ""}
          </span>
          <button
            type="button"
            className="btn btn-primary btn-small"
            data-testid="send-later-submit"
            onClick={schedule}
            disabled={scheduling || disabled}
          >
            {scheduling ? "Scheduling…" : "Schedule"}
          </button>
        </div>
      )}
      <div className="composer-row">
        <textarea
          ref={input}
          data-testid="composer"
          value={text}
          onChange={(e) => change(e.target.value)}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
          rows={rows}
          maxLength={MAX_LENGTH}
          placeholder={roomName ? `Message #${roomName}` : "Write a message"}
          aria-label="Message"
        />
        <button
          type="button"
          className={`btn btn-ghost later-toggle${laterOpen ? " active" : ""}`}
          data-testid="send-later-toggle"
          aria-pressed={laterOpen}
          aria-label="Send later"
          title="Send later"
          onClick={() => {
            if (!laterOpen) setLaterValue(toDateTimeLocal(defaultScheduleTime(Date.now())));
            setLaterOpen(!laterOpen);
          }}
        >
          <Icon name="clock" />
          <span className="btn-label">Later</span>
        </button>
        <button
          type="submit"
          className="btn btn-primary send-btn"
          data-testid="send"
          disabled={disabled || !text.trim()}
          aria-label="Send"
        >
          <Icon name="send" />
          <span className="btn-label">Send</span>
        </button>
      </div>
      {pasteCut > 0 && (
        <div className="notice notice-warn paste-cut" data-testid="paste-cut-notice" role="status">
          The pasted text was cut to fit the limit of {MAX_LENGTH.toLocaleString("en")} characters:
          the last {pasteCut.toLocaleString("en")}{" "}
          {pasteCut === 1 ? "character was" : "characters were"} left out.
          <button
            type="button"
            className="notice-close"
            aria-label="Dismiss"
            onClick={() => setPasteCut(0)}
          >
            ×
          </button>
        </div>
      )}
      {text.length > MAX_LENGTH - 500 && (
        <div className="muted char-count">
          {text.length} / {MAX_LENGTH}
        </div>
      )}
    </form>
  );
}
