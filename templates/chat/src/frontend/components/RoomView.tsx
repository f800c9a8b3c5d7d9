/**
 * One room, live. At every (re)connect `getRoom()` gives the recent messages, who is online and
 * my scheduled messages; events keep them current. Older messages come page by page from
 * `history({ before })` ("Load older messages", or scrolling to the top).
 */
import { useCallback, useEffect, useState } from "react";
import type { Message } from "../../actors/index.js";
import type { User } from "../lib/api.js";
import { useChatActor } from "../lib/chat.js";
import { describeError, errorCode } from "../lib/errors.js";
import { markSeen } from "../lib/hooks.js";
import { markDeleted, mayHaveOlder, mergeMessages, typingSentence } from "../lib/messages.js";
import { linkClick } from "../lib/router.js";
import { Avatar } from "./Avatar.js";
import { Composer } from "./Composer.js";
import { MessageList, type PendingMessage } from "./MessageList.js";
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
}

interface OnlineUser {
  userId: string;
  name: string;
}

export function RoomView({
  roomId,
  focusMessageId,
  knownName,
  user,
}: {
  roomId: string;
  focusMessageId: string | null;
  knownName: string | undefined;
  user: User;
}) {
  const room = useChatActor("chatRoom", [user.org, roomId]);
  const conn = room.connection;
  const [info, setInfo] = useState<RoomInfo | null>(null);
  const [messages, setMessages] = useState<Message[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [online, setOnline] = useState<OnlineUser[]>([]);
  const [memberCount, setMemberCount] = useState<number | null>(null);
  const [typing, setTyping] = useState<Map<string, { name: string; at: number }>>(new Map());
  const [scheduled, setScheduled] = useState<Scheduled[]>([]);
  const [pending, setPending] = useState<PendingMessage[]>([]);
  const [historyExhausted, setHistoryExhausted] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [loadFailure, setLoadFailure] = useState<unknown>(null);

  // Everything the room shows, reloaded at each (re)connect: events missed while away are in it.
  useEffect(() => {
    if (!room.isConnected || !conn) return;
    let cancelled = false;
    conn.getRoom().then(
      (r) => {
        if (cancelled) return;
        setInfo({ id: r.room.id, name: r.room.name });
        setMessages((prev) => mergeMessages(prev, r.messages));
        setOnline(r.online);
        setMemberCount(r.members.length);
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
  }, [room.isConnected, conn]);

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
  room.useEvent("memberJoined", () => setMemberCount((n) => (n ?? 0) + 1));
  room.useEvent("presence", (p: { type: "join" | "leave"; userId: string; name: string }) => {
    setOnline((prev) => {
      const rest = prev.filter((u) => u.userId !== p.userId);
      return p.type === "join" ? [...rest, { userId: p.userId, name: p.name }] : rest;
    });
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

  // Unread marks in the room list: this room is read while it is open.
  // biome-ignore lint/correctness/useExhaustiveDependencies: mark again whenever messages change.
  useEffect(() => {
    markSeen(roomId);
  }, [roomId, messages]);
  useEffect(() => () => markSeen(roomId), [roomId]);

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

  const send = useCallback(
    async (text: string) => {
      if (!conn) return false;
      const tempId = `pending-${Date.now()}-${Math.random().toString(36).slice(2)}`;
      setPending((prev) => [...prev, { tempId, text, createdAt: Date.now() }]);
      setError(null);
      try {
        const message = await conn.send(text);
        setMessages((prev) => mergeMessages(prev, [message]));
        return true;
      } catch (err) {
        setError(describeError(err));
        return false;
      } finally {
        setPending((prev) => prev.filter((p) => p.tempId !== tempId));
      }
    },
    [conn],
  );

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

  const typingNow = useCallback(() => {
    conn?.typing().catch(() => {});
  }, [conn]);

  const title = info?.name ?? knownName ?? "";
  const failure = room.failure ?? (loaded ? null : loadFailure);
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
            ) : failure ? (
              "Room unavailable"
            ) : (
              <span className="skeleton skeleton-title" />
            )}
          </h1>
          {memberCount !== null && (
            <span className="room-sub">
              {memberCount === 1 ? "1 member" : `${memberCount} members`} · {online.length} online
            </span>
          )}
        </div>
        <ul className="presence" data-testid="presence" aria-label="Online now">
          {sortOnline(online, user.id).map((u) => (
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
      </div>

      {failure ? (
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
            loaded={loaded}
            me={user}
            canLoadOlder={loaded && mayHaveOlder(messages, historyExhausted)}
            loadingOlder={loadingOlder}
            onLoadOlder={loadOlder}
            focusMessageId={focusMessageId}
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
            />
          </div>
        </>
      )}
    </section>
  );
}

/** Me first, then by name. */
function sortOnline(online: OnlineUser[], myId: string): OnlineUser[] {
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
