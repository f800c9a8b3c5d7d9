/**
 * One room, live. At every (re)connect `getRoom()` gives the recent messages, who is online and
 * my scheduled messages; events keep them current. Older messages come page by page from
 * `history({ before })` ("Load older messages", or scrolling to the top).
 *
 * While the room is open and the page is visible, its newest message is marked read. A rename
 * (`roomRenamed`) changes the title in place; a deletion (`roomDeleted`) replaces the room with
 * a notice; leaving (here or on another device, `memberLeft`) goes back to the room list.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type { Message } from "../../actors/index.js";
import type { Role, User } from "../lib/api.js";
import { useChatActor } from "../lib/chat.js";
import { describeError, errorCode } from "../lib/errors.js";
import { usePageVisible } from "../lib/hooks.js";
import { markDeleted, mayHaveOlder, mergeMessages, typingSentence } from "../lib/messages.js";
import {
  loadPending,
  newClientId,
  type PendingMessage,
  pendingKey,
  restorePending,
  SEND_WAIT_SECONDS,
  savePending,
  sendFailureKind,
} from "../lib/pending.js";
import { type JoinOrLeave, type Person, usePeople } from "../lib/people.js";
import { linkClick, navigate } from "../lib/router.js";
import { Avatar } from "./Avatar.js";
import { Composer } from "./Composer.js";
import { MessageList } from "./MessageList.js";
import { RoomMenu } from "./RoomMenu.js";
import { type Scheduled, ScheduledList } from "./ScheduledList.js";

/** Refusals that trying again cannot fix. */
const FINAL_CODES = new Set(["room_not_found", "forbidden", "actor_not_found"]);
/** Messages per `history` page. */
const HISTORY_PAGE = 50;
/** A typing indicator is dropped after this long without news (the server says stop after 4 s). */
const TYPING_STALE_MS = 8000;

interface RoomInfo {
  id: string;
  name: string;
  createdBy: string;
}

export function RoomView({
  roomId,
  focusMessageId,
  knownName,
  user,
  role,
  onMarkRead,
}: {
  roomId: string;
  focusMessageId: string | null;
  knownName: string | undefined;
  user: User;
  /** Decides only which menu items show: the server checks again. */
  role: Role | undefined;
  /** Everything up to this seq in this room has been seen. */
  onMarkRead: (roomId: string, seq: number) => void;
}) {
  const room = useChatActor("chatRoom", [user.org, roomId]);
  const conn = room.connection;
  const [info, setInfo] = useState<RoomInfo | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [loaded, setLoaded] = useState(false);
  // Who is online and who is a member: from getRoom, then kept by events, including those heard
  // while getRoom was on its way (see lib/people.ts).
  const online = usePeople();
  const members = usePeople();
  const [typing, setTyping] = useState<Map<string, { name: string; at: number }>>(new Map());
  const [scheduled, setScheduled] = useState<Scheduled[]>([]);
  // Unsent messages of this room, kept in sessionStorage: a reload restores them (see lib/pending).
  const storageKey = pendingKey(user.org, roomId, user.id);
  const [pending, setPending] = useState<PendingMessage[]>(() =>
    restorePending(loadPending(sessionStorageOrUndefined(), storageKey)),
  );
  /** Client ids whose send is on its way now (so the restore effect does not send them twice). */
  const inFlight = useRef(new Set<string>());
  const [historyExhausted, setHistoryExhausted] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [loadFailure, setLoadFailure] = useState<unknown>(null);
  /** Whether `online` is current: not while the connection is down, nor until `getRoom` answers. */
  const [presenceKnown, setPresenceKnown] = useState(false);
  const [editingId, setEditingId] = useState<string | null>(null);
  const composerInput = useRef<HTMLTextAreaElement>(null);

  // The composer has the focus when the room opens (not on touch screens: it would open the
  // keyboard over the messages).
  useEffect(() => {
    if (window.matchMedia?.("(hover: none) and (pointer: coarse)").matches) return;
    composerInput.current?.focus();
  }, []);

  // While the connection is down nobody's presence is known: the list would show people who may
  // have left. It is known again when `getRoom` answers after the reconnect.
  useEffect(() => {
    if (!room.isConnected) setPresenceKnown(false);
  }, [room.isConnected]);
  /** Who deleted the room while it was open. */
  const [deletedBy, setDeletedBy] = useState<string | null>(null);

  // Everything the room shows, reloaded at each (re)connect: events missed while away are in it.
  useEffect(() => {
    if (!room.isConnected || !conn) return;
    let cancelled = false;
    online.beginLoad();
    members.beginLoad();
    conn.getRoom().then(
      (r) => {
        if (cancelled) return;
        setInfo({ id: r.room.id, name: r.room.name, createdBy: r.room.createdBy });
        setMessages((prev) => mergeMessages(prev, r.messages));
        online.loaded(r.online);
        setPresenceKnown(true);
        members.loaded(r.members);
        setScheduled(r.scheduled);
        setTyping(new Map());
        setLoaded(true);
        setLoadFailure(null);
      },
      (err) => !cancelled && setLoadFailure(err),
    );
    return () => {
      cancelled = true;
    };
  }, [room.isConnected, conn, online.beginLoad, online.loaded, members.beginLoad, members.loaded]);

  room.useEvent("message", (m: Message & { scheduledId?: string }) => {
    const { scheduledId, ...message } = m;
    setMessages((prev) => mergeMessages(prev, [message]));
    if (scheduledId) setScheduled((prev) => prev.filter((s) => s.id !== scheduledId));
    setTyping((prev) => without(prev, m.authorId));
  });
  room.useEvent("messageEdited", (m: Message) => setMessages((prev) => mergeMessages(prev, [m])));
  room.useEvent("messageDeleted", (d: { id: string }) =>
    setMessages((prev) => markDeleted(prev, d.id)),
  );
  room.useEvent("memberJoined", (m: Person) =>
    members.apply({ type: "join", userId: m.userId, name: m.name }),
  );
  room.useEvent("memberLeft", (m: Person) => {
    // Left on another device (or here): this view has nothing more to show.
    if (m.userId === user.id) navigate("/", { replace: true });
    else members.apply({ type: "leave", userId: m.userId, name: m.name });
  });
  room.useEvent("roomRenamed", (r: { name: string }) =>
    setInfo((prev) => (prev ? { ...prev, name: r.name } : prev)),
  );
  room.useEvent("roomDeleted", (d: { by: string }) => setDeletedBy(d.by));
  room.useEvent("presence", (p: JoinOrLeave) => {
    online.apply(p);
    if (p.type === "leave") setTyping((prev) => without(prev, p.userId));
  });
  room.useEvent("typing", (t: { userId: string; name: string; typing: boolean }) => {
    if (t.userId === user.id) return;
    setTyping((prev) => {
      if (!t.typing) return without(prev, t.userId);
      const next = new Map(prev);
      next.set(t.userId, { name: t.name, at: Date.now() });
      return next;
    });
  });

  // A missed "stopped typing" (a dropped connection) must not leave an indicator forever.
  useEffect(() => {
    if (typing.size === 0) return;
    const t = setInterval(() => {
      const cutoff = Date.now() - TYPING_STALE_MS;
      setTyping((prev) => {
        const next = new Map([...prev].filter(([, v]) => v.at > cutoff));
        return next.size === prev.size ? prev : next;
      });
    }, 1000);
    return () => clearInterval(t);
  }, [typing.size]);

  // Unread counts: this room is read up to its newest message while it is open and visible.
  const visible = usePageVisible();
  const newestSeq = messages.at(-1)?.seq ?? 0;
  useEffect(() => {
    if (visible && loaded && newestSeq > 0) onMarkRead(roomId, newestSeq);
  }, [visible, loaded, newestSeq, roomId, onMarkRead]);

  const loadOlder = useCallback(async () => {
    const first = messages[0];
    if (!conn || !first || loadingOlder) return;
    setLoadingOlder(true);
    try {
      const page = await conn.history({ before: first.seq, limit: HISTORY_PAGE });
      setMessages((prev) => mergeMessages(prev, page.messages));
      if (!page.hasMore) setHistoryExhausted(true);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setLoadingOlder(false);
    }
  }, [conn, messages, loadingOlder]);

  useEffect(() => {
    savePending(sessionStorageOrUndefined(), storageKey, pending);
  }, [storageKey, pending]);

  /**
   * Sends one queued message. True once it is posted, or kept visibly unsent ("Not sent", text
   * kept, Retry / Discard); false when the room refused a message just written in the composer
   * (which gets the text back). A refused message restored or retried from the list stays in it,
   * "Not sent" with the reason, so its text is not lost either.
   */
  const deliver = useCallback(
    async (entry: PendingMessage, fromComposer = false): Promise<boolean> => {
      if (!conn || inFlight.current.has(entry.clientId)) return true;
      inFlight.current.add(entry.clientId);
      const update = (patch: Partial<PendingMessage> | null) =>
        setPending((prev) =>
          patch === null
            ? prev.filter((p) => p.clientId !== entry.clientId)
            : prev.map((p) => (p.clientId === entry.clientId ? { ...p, ...patch } : p)),
        );
      try {
        for (;;) {
          try {
            const message = await conn.send(entry.text, entry.clientId);
            setMessages((prev) => mergeMessages(prev, [message]));
            update(null);
            return true;
          } catch (err) {
            const kind = sendFailureKind(errorCode(err));
            // The reply was lost with the connection: send it again (the client id makes it safe).
            if (kind === "resend") continue;
            if (kind === "failed") {
              update({
                status: "failed",
                error: `Not sent: no connection for ${SEND_WAIT_SECONDS} s.`,
              });
              return true;
            }
            if (!fromComposer) {
              update({ status: "failed", error: `Not sent: ${describeError(err)}` });
              return true;
            }
            update(null);
            setError(describeError(err));
            return false;
          }
        }
      } finally {
        inFlight.current.delete(entry.clientId);
      }
    },
    [conn],
  );

  const send = useCallback(
    async (text: string) => {
      if (!conn) return false;
      const entry: PendingMessage = {
        clientId: newClientId(),
        text,
        createdAt: Date.now(),
        status: "sending",
      };
      setPending((prev) => [...prev, entry]);
      setError(null);
      return deliver(entry, true);
    },
    [conn, deliver],
  );

  // Messages restored after a reload that were on their way: send them again, in order.
  useEffect(() => {
    if (!conn) return;
    for (const p of pending) {
      if (p.status === "sending" && !inFlight.current.has(p.clientId)) void deliver(p);
    }
  }, [conn, pending, deliver]);

  const retryPending = useCallback(
    (clientId: string) => {
      const entry = pending.find((p) => p.clientId === clientId);
      if (!entry) return;
      const again = { ...entry, status: "sending" as const, error: undefined };
      setPending((prev) => prev.map((p) => (p.clientId === clientId ? again : p)));
      void deliver(again);
    },
    [pending, deliver],
  );

  const discardPending = useCallback((clientId: string) => {
    setPending((prev) => prev.filter((p) => p.clientId !== clientId));
  }, []);

  const sendLater = useCallback(
    async (text: string, at: number) => {
      if (!conn) return false;
      setError(null);
      try {
        const entry = await conn.sendLater(text, at);
        setScheduled((prev) =>
          [...prev.filter((s) => s.id !== entry.id), entry].sort((a, b) => a.at - b.at),
        );
        return true;
      } catch (err) {
        setError(describeError(err));
        return false;
      }
    },
    [conn],
  );

  const cancelScheduled = useCallback(
    async (id: string) => {
      if (!conn) return;
      setError(null);
      try {
        await conn.cancelScheduled(id);
        setScheduled((prev) => prev.filter((s) => s.id !== id));
      } catch (err) {
        if ((err as { code?: string }).code === "not_found") {
          setScheduled((prev) => prev.filter((s) => s.id !== id));
        }
        setError(describeError(err));
      }
    },
    [conn],
  );

  // A scheduled message that is past due and was not announced (missed while reconnecting).
  useEffect(() => {
    if (!conn || scheduled.length === 0) return;
    const next = Math.min(...scheduled.map((s) => s.at));
    const t = setTimeout(
      () => {
        conn.listScheduled().then(setScheduled, () => {});
      },
      Math.max(0, next - Date.now()) + 3000,
    );
    return () => clearTimeout(t);
  }, [conn, scheduled]);

  const edit = useCallback(
    async (id: string, text: string) => {
      if (!conn) return false;
      setError(null);
      try {
        const m = await conn.edit(id, text);
        setMessages((prev) => mergeMessages(prev, [m]));
        return true;
      } catch (err) {
        setError(describeError(err));
        return false;
      }
    },
    [conn],
  );

  const remove = useCallback(
    async (id: string) => {
      if (!conn) return;
      setError(null);
      try {
        await conn.remove(id);
        setMessages((prev) => markDeleted(prev, id));
      } catch (err) {
        setError(describeError(err));
      }
    },
    [conn],
  );

  /** ArrowUp in the empty composer: edit my newest message still shown. */
  const editLast = useCallback(() => {
    const mine = messages.findLast((m) => m.authorId === user.id && m.deletedAt === null);
    if (!mine) return false;
    setEditingId(mine.id);
    return true;
  }, [messages, user.id]);

  // Editing ended (saved, cancelled): back to the composer.
  const changeEditing = useCallback((id: string | null) => {
    setEditingId(id);
    if (id === null) requestAnimationFrame(() => composerInput.current?.focus());
  }, []);

  const leave = useCallback(() => {
    if (!conn) return Promise.reject({ code: "connection_unavailable" });
    return conn.leave();
  }, [conn]);

  const typingNow = useCallback(() => {
    conn?.typing().catch(() => {});
  }, [conn]);

  const title = info?.name ?? knownName ?? "";
  const failure = deletedBy ? null : (room.failure ?? (loaded ? null : loadFailure));
  const canManage = role === "admin" || info?.createdBy === user.id;
  const typingText = typingSentence([...typing.values()].map((t) => t.name));

  return (
    <section className="room" aria-label={title ? `Room ${title}` : "Room"}>
      <div className="room-head">
        <a className="back-link" href="/" onClick={linkClick("/")} aria-label="Back to rooms">
          ‹
        </a>
        <div className="room-head-main">
          <h1 className="room-title" data-testid="room-title">
            {title ? (
              <>
                <span className="room-hash" aria-hidden="true">
                  #
                </span>
                {title}
              </>
            ) : failure || deletedBy ? (
              "Room unavailable"
            ) : (
              <span className="skeleton skeleton-title" />
            )}
          </h1>
          {loaded && !deletedBy && (
            <span className="room-sub" data-testid="room-sub">
              {members.people.length === 1 ? "1 member" : `${members.people.length} members`} ·{" "}
              {presenceKnown
                ? `${online.people.length} online`
                : "online unknown while reconnecting"}
            </span>
          )}
        </div>
        <ul
          className="presence"
          data-testid="presence"
          data-known={presenceKnown}
          aria-label="Online now"
        >
          {(presenceKnown && !deletedBy ? sortOnline(online.people, user.id) : []).map((u) => (
            <li
              key={u.userId}
              className={`presence-chip${u.userId === user.id ? " presence-self" : ""}`}
              title={u.userId === user.id ? `${u.name} (you)` : `${u.name} is online`}
            >
              <Avatar id={u.userId} name={u.name} size={22} />
              <span className="presence-dot" aria-hidden="true" />
              <span className="presence-name" data-testid="presence-user">
                {u.name}
              </span>
            </li>
          ))}
        </ul>
        {info && !deletedBy && !failure && (
          <RoomMenu
            org={user.org}
            roomId={roomId}
            name={info.name}
            canManage={canManage}
            onLeave={leave}
          />
        )}
      </div>

      {deletedBy ? (
        <div className="room-failure">
          <p className="notice notice-error" data-testid="room-deleted" role="alert">
            {`${deletedBy} deleted this room.`}
          </p>
          <div className="row">
            <a className="btn btn-primary" href="/" onClick={linkClick("/")}>
              Back to rooms
            </a>
          </div>
        </div>
      ) : failure ? (
        <div className="room-failure">
          <p className="notice notice-error" data-testid="room-error" role="alert">
            {describeError(failure)}
          </p>
          <div className="row">
            <a className="btn btn-ghost" href="/" onClick={linkClick("/")}>
              Back to rooms
            </a>
            {!FINAL_CODES.has(errorCode(failure) ?? "") && (
              <button type="button" className="btn btn-primary" onClick={room.retry}>
                Try again
              </button>
            )}
          </div>
        </div>
      ) : (
        <>
          <MessageList
            messages={messages}
            pending={pending}
            onRetryPending={retryPending}
            onDiscardPending={discardPending}
            loaded={loaded}
            me={user}
            canLoadOlder={loaded && mayHaveOlder(messages, historyExhausted)}
            loadingOlder={loadingOlder}
            onLoadOlder={loadOlder}
            focusMessageId={focusMessageId}
            editingId={editingId}
            onEditingChange={changeEditing}
            onEdit={edit}
            onDelete={remove}
          />
          <div className="room-foot">
            <div className="typing-slot" aria-live="polite">
              {typingText && (
                <span className="typing-indicator" data-testid="typing-indicator">
                  <span className="typing-dots" aria-hidden="true">
                    <i />
                    <i />
                    <i />
                  </span>
                  {typingText}
                </span>
              )}
            </div>
            {error && (
              <p className="notice notice-error room-error" data-testid="room-error" role="alert">
                {error}
                <button
                  type="button"
                  className="notice-close"
                  aria-label="Dismiss"
                  onClick={() => setError(null)}
                >
                  ×
                </button>
              </p>
            )}
            <ScheduledList scheduled={scheduled} onCancel={cancelScheduled} />
            <Composer
              roomName={title}
              disabled={!conn}
              onSend={send}
              onSendLater={sendLater}
              onTyping={typingNow}
              onInvalid={setError}
              onEditLast={editLast}
              inputRef={composerInput}
            />
          </div>
        </>
      )}
    </section>
  );
}

function sessionStorageOrUndefined(): Storage | undefined {
  try {
    return window.sessionStorage;
  } catch {
    return undefined; // storage disabled: the queue lives in memory only
  }
}

/** Me first, then by name. */
function sortOnline(online: Person[], myId: string): Person[] {
  return [...online].sort((a, b) =>
    a.userId === myId ? -1 : b.userId === myId ? 1 : a.name.localeCompare(b.name),
  );
}

function without<V>(map: Map<string, V>, key: string): Map<string, V> {
  if (!map.has(key)) return map;
  const next = new Map(map);
  next.delete(key);
  return next;
}
