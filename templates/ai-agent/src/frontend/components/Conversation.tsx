/**
 * One conversation, live: the agent's snapshot (`getConversation`) on every (re)connection,
 * then its events. Tokens carry their position, so a second tab, a reconnect or a reload joins
 * the answer where it is: text the snapshot had is not repeated, and a gap (tokens lost while
 * away) is filled with `readStream` from this view's position.
 */
import {
  type FormEvent,
  type KeyboardEvent,
  useCallback,
  useEffect,
  useRef,
  useState,
} from "react";
import type { ChatMessage, PendingApproval, ToolCallView } from "../../actors/index.js";
import { describeError, getParams, useActor, useSessionGuard } from "../lib/client.js";
import {
  applyStreamChunk,
  applyTokenEvent,
  EMPTY_VIEW,
  formatDue,
  formatTokens,
  mergeSnapshot,
  messageParts,
  streamingMessage,
  upsertMessage,
  type ViewState,
} from "../lib/conversation.js";

export function Conversation({
  userId,
  conversationId,
  listTitle,
}: {
  userId: string;
  conversationId: string;
  /** The title in the user's list, shown until the conversation is loaded. */
  listTitle?: string;
}) {
  const agent = useActor({ name: "agent", key: [userId, conversationId], getParams });
  useSessionGuard(agent.error);
  const conn = agent.connection;
  const [view, setView] = useState<ViewState>(EMPTY_VIEW);
  // The latest state, for event handlers that must decide (gap or not) before rendering.
  const viewRef = useRef(view);
  const update = useCallback((fn: (s: ViewState) => ViewState) => {
    viewRef.current = fn(viewRef.current);
    setView(viewRef.current);
  }, []);
  const [everConnected, setEverConnected] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);

  agent.useEvent("message", (m) => update((s) => upsertMessage(s, m)));
  agent.useEvent("messageUpdated", (m) => update((s) => upsertMessage(s, m)));
  agent.useEvent("approvalRequested", (a) => update((s) => ({ ...s, approval: a })));
  agent.useEvent("titleChanged", (t) => update((s) => ({ ...s, title: t.title })));
  agent.useEvent("token", (t) => {
    const r = applyTokenEvent(viewRef.current, t);
    update(() => r.state);
    if (r.gap && conn) {
      conn
        .readStream(r.gap.messageId, r.gap.from)
        .then((chunk) => update((s) => applyStreamChunk(s, chunk)))
        .catch(() => {});
    }
  });

  useEffect(() => {
    if (!conn || !agent.isConnected) return;
    setEverConnected(true);
    let live = true;
    conn.getConversation().then(
      (snapshot) => {
        if (live) update((s) => mergeSnapshot(s, snapshot));
      },
      (err) => live && setLoadError(describeError(err)),
    );
    return () => {
      live = false;
    };
  }, [conn, agent.isConnected, update]);

  const { scroller, content, stickToBottom } = useStickToBottom();

  const refused = agent.connStatus === "disconnected" && !everConnected ? agent.error : null;
  if (refused || loadError) {
    return (
      <section className="conversation">
        <p className="error pad" role="alert">
          This conversation cannot be opened: {loadError ?? refusalSentence(refused)}
        </p>
      </section>
    );
  }
  const reconnecting = everConnected && !agent.isConnected;
  const streaming = streamingMessage(view);
  const usage = view.messages.reduce(
    (sum, m) => sum + m.usage.inputTokens + m.usage.outputTokens,
    0,
  );

  return (
    <section className="conversation" aria-label="Conversation">
      <header className="conversation-head">
        <h2>{view.loaded ? view.title : (listTitle ?? "Loading…")}</h2>
        <div className="badges">
          {view.model.includes("stand-in") ? (
            <span className="badge stand-in" title={view.model}>
              Stand-in model (offline, not a real AI)
            </span>
          ) : (
            view.model && <span className="badge">{view.model}</span>
          )}
          <span className="badge" data-testid="conversation-usage">
            {formatTokens(usage)} tokens
          </span>
        </div>
      </header>
      {reconnecting && (
        <div className="banner" role="status">
          Reconnecting…
        </div>
      )}
      <div className="messages" ref={scroller}>
        <ol className="message-list" ref={content}>
          {!view.loaded && <li className="muted pad">Loading the conversation…</li>}
          {view.loaded && view.messages.length === 0 && (
            <li className="muted pad empty">
              Ask anything. The agent can calculate ("what is 17 * 23"), keep notes ("save a note:
              buy milk", "delete the note about milk") and remind you ("remind me in 2 minutes to
              stretch").
            </li>
          )}
          {view.messages.map((m) => (
            <Message
              key={m.id}
              message={m}
              approval={view.approval?.messageId === m.id ? view.approval : null}
              onAnswer={async (approved) => {
                if (!conn || !view.approval) return;
                const id = view.approval.approvalId;
                await (approved ? conn.approve(id) : conn.deny(id));
              }}
            />
          ))}
        </ol>
      </div>
      <Composer
        disabled={!conn || !agent.isConnected || !view.loaded}
        streaming={Boolean(streaming)}
        waiting={Boolean(view.approval)}
        send={(text) => {
          // Your own prompt brings you to the end, wherever you were reading.
          stickToBottom();
          return conn!.send(text);
        }}
        stop={() => conn!.cancel()}
      />
    </section>
  );
}

/** Within this many pixels of the end, the reader counts as at the bottom. */
const AT_BOTTOM_SLACK_PX = 24;

/**
 * Keeps the message list at its end while the reader is there: whatever makes the content
 * taller (a message, a streamed word, a tool card or its approval buttons appearing, a line
 * wrapping after layout) and whatever makes the list shorter (the composer growing, a banner,
 * the window) is seen by ResizeObservers, not guessed from the data. A reader who scrolled up
 * keeps their place until they come back to the end (or send a prompt).
 */
function useStickToBottom() {
  // State, not refs: the list is not rendered while the conversation cannot be opened.
  const [el, scroller] = useState<HTMLDivElement | null>(null);
  const [list, content] = useState<HTMLOListElement | null>(null);
  // Set by scroll events only: content growing does not move scrollTop, so this is whether
  // the reader was at the end before it grew.
  const atBottom = useRef(true);
  const lastTop = useRef(0);
  const toEnd = useCallback(() => {
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    lastTop.current = el.scrollTop;
  }, [el]);
  useEffect(() => {
    if (!el || !list) return;
    const onScroll = () => {
      const top = el.scrollTop;
      const fromEnd = el.scrollHeight - top - el.clientHeight;
      // Only a move up leaves the end, however small (a wheel's smooth steps are a few pixels
      // each); coming down to within the slack joins it again. The event of our own jump to
      // the end is dispatched a frame later, against content that may have grown again since
      // (a new message): read as "not at the end", it would stop the following for good.
      if (top < lastTop.current - 1) atBottom.current = fromEnd <= 1;
      else if (fromEnd <= AT_BOTTOM_SLACK_PX) atBottom.current = true;
      lastTop.current = top;
    };
    const follow = () => {
      if (atBottom.current) toEnd();
    };
    el.addEventListener("scroll", onScroll, { passive: true });
    const observer = new ResizeObserver(follow);
    observer.observe(el);
    observer.observe(list);
    return () => {
      el.removeEventListener("scroll", onScroll);
      observer.disconnect();
    };
  }, [el, list, toEnd]);
  const stickToBottom = useCallback(() => {
    atBottom.current = true;
    toEnd();
  }, [toEnd]);
  return { scroller, content, stickToBottom };
}

/** Why a conversation's connection was refused, for a person (not the API's wording). */
function refusalSentence(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "create_through_list" || code === "actor_not_found" || code === "forbidden") {
    return "it does not exist, or it is not yours. Pick one from the list.";
  }
  return describeError(err);
}

const STATUS_LABEL: Partial<Record<ChatMessage["status"], string>> = {
  stopped: "stopped",
  interrupted: "interrupted",
  error: "error",
  awaiting_approval: "waiting for approval",
};

function Message({
  message: m,
  approval,
  onAnswer,
}: {
  message: ChatMessage;
  approval: PendingApproval | null;
  onAnswer: (approved: boolean) => Promise<void>;
}) {
  const label = STATUS_LABEL[m.status];
  const parts = messageParts(m);
  const cursor = m.status === "streaming";
  return (
    <li className={`message ${m.role} status-${m.status}`} data-status={m.status}>
      <div className="who">
        {m.role === "user" ? "You" : m.role === "reminder" ? "Reminder" : "Agent"}
        {label && <span className={`status-badge ${m.status}`}>{label}</span>}
      </div>
      {parts.map((part, i) =>
        part.kind === "tool" ? (
          <ToolCard
            key={part.call.id}
            call={part.call}
            approval={approval?.toolCallId === part.call.id ? approval : null}
            onAnswer={onAnswer}
          />
        ) : (
          <div className="text" key={`text-${part.start}`}>
            {part.text}
            {cursor && i === parts.length - 1 && <span className="cursor" aria-hidden="true" />}
          </div>
        ),
      )}
      {cursor && parts.at(-1)?.kind !== "text" && (
        <div className="text">
          <span className="cursor" aria-hidden="true" />
        </div>
      )}
      {m.status === "error" && m.error && <p className="error">The answer failed: {m.error}</p>}
      {m.status === "interrupted" && (
        <p className="muted small">The server stopped while this answer was written.</p>
      )}
    </li>
  );
}

function ToolCard({
  call,
  approval,
  onAnswer,
}: {
  call: ToolCallView;
  approval: PendingApproval | null;
  onAnswer: (approved: boolean) => Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const answer = async (approved: boolean) => {
    setBusy(true);
    setError(null);
    try {
      await onAnswer(approved);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className={`tool-card ${call.status}`} data-tool={call.name}>
      <div className="tool-head">
        <code>{call.name}</code>
        <span className="tool-status">{call.status.replace("_", " ")}</span>
      </div>
      <pre className="tool-args">{JSON.stringify(call.args, null, 2)}</pre>
      {call.result !== undefined && (
        <pre className="tool-result">{JSON.stringify(call.result, null, 2)}</pre>
      )}
      {call.name === "remindMe" && <ReminderDue result={call.result} />}
      {call.error && <p className="error">{call.error}</p>}
      {approval && (
        <div className="approval">
          <p>This tool changes your data. Let it run?</p>
          <button type="button" className="primary" disabled={busy} onClick={() => answer(true)}>
            Approve
          </button>
          <button type="button" disabled={busy} onClick={() => answer(false)}>
            Deny
          </button>
          {error && <p className="error">{error}</p>}
        </div>
      )}
    </div>
  );
}

/** A reminder's time in the reader's own clock (the result says it in UTC). */
function ReminderDue({ result }: { result: unknown }) {
  const at = (result as { at?: unknown } | undefined)?.at;
  const due = typeof at === "string" ? new Date(at) : null;
  if (!due || Number.isNaN(due.getTime())) return null;
  return (
    <p className="tool-note">
      Due{" "}
      <time dateTime={at as string} title={due.toString()}>
        {formatDue(due, new Date())}
      </time>
    </p>
  );
}

function Composer({
  disabled,
  streaming,
  waiting,
  send,
  stop,
}: {
  disabled: boolean;
  streaming: boolean;
  waiting: boolean;
  send: (text: string) => Promise<unknown>;
  stop: () => Promise<unknown>;
}) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e?: FormEvent) {
    e?.preventDefault();
    if (!text.trim() || busy) return;
    setBusy(true);
    setError(null);
    try {
      await send(text);
      setText("");
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }
  function onKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      void submit();
    }
  }
  return (
    <form className="composer" onSubmit={submit}>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="composer-row">
        <textarea
          aria-label="Prompt"
          placeholder={waiting ? "Approve or deny the tool first…" : "Ask the agent…"}
          rows={2}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKey}
        />
        {streaming ? (
          <button
            type="button"
            className="stop"
            disabled={disabled}
            onClick={() => stop().catch((err) => setError(describeError(err)))}
          >
            Stop
          </button>
        ) : (
          <button className="primary" type="submit" disabled={disabled || busy || !text.trim()}>
            Send
          </button>
        )}
      </div>
    </form>
  );
}
