/**
 * The organisation's rooms, live: `listRooms()` at every (re)connect, then `roomsChanged`
 * events, which carry the whole list (newest activity first). Creating a room opens it.
 * Each room shows its unread count (from its `lastSeq` and the person's read positions), and
 * the page title their total.
 */
import { type FormEvent, useEffect, useMemo, useState } from "react";
import type { RoomRead, RoomSummary } from "../../actors/index.js";
import { useChatActor } from "../lib/chat.js";
import { describeError } from "../lib/errors.js";
import { useNow, usePageVisible } from "../lib/hooks.js";
import { linkClick, navigate, roomPath } from "../lib/router.js";
import { formatRelative } from "../lib/time.js";
import { pageTitle, unreadByRoom, unreadLabel } from "../lib/unread.js";

export function RoomList({
  org,
  activeRoomId,
  reads,
  onNames,
}: {
  org: string;
  activeRoomId: string | null;
  /** The person's read positions; null until loaded (no counts are shown until then). */
  reads: Record<string, RoomRead> | null;
  onNames: (names: Record<string, string>) => void;
}) {
  const list = useChatActor("chatRoomList", [org]);
  const conn = list.connection;
  const [rooms, setRooms] = useState<RoomSummary[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState<string | null>(null);
  const now = useNow();
  // The open room counts nothing while it is on screen (it is being read); in a background tab
  // its new messages count too, so the title shows them.
  const visible = usePageVisible();
  const readingRoomId = visible ? activeRoomId : null;
  const unread = useMemo(
    () => (rooms && reads ? unreadByRoom(rooms, reads, readingRoomId) : {}),
    [rooms, reads, readingRoomId],
  );
  const totalUnread = Object.values(unread).reduce((a, b) => a + b, 0);

  useEffect(() => {
    document.title = pageTitle(totalUnread);
  }, [totalUnread]);
  useEffect(() => () => void (document.title = pageTitle(0)), []);

  useEffect(() => {
    if (!list.isConnected || !conn) return;
    let cancelled = false;
    conn.listRooms().then(
      (r) => {
        if (cancelled) return;
        setRooms(r);
        setLoadError(null);
      },
      (err) => !cancelled && setLoadError(describeError(err)),
    );
    return () => {
      cancelled = true;
    };
  }, [list.isConnected, conn]);

  list.useEvent("roomsChanged", (r: RoomSummary[]) => setRooms(r));

  useEffect(() => {
    if (rooms) onNames(Object.fromEntries(rooms.map((r) => [r.id, r.name])));
  }, [rooms, onNames]);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    const roomName = name.trim();
    if (!roomName) {
      setCreateError("Give the room a name.");
      return;
    }
    if (!conn || creating) return;
    setCreating(true);
    setCreateError(null);
    try {
      const room = await conn.createRoom(roomName);
      setRooms((prev) => (prev?.some((r) => r.id === room.id) ? prev : [room, ...(prev ?? [])]));
      setName("");
      navigate(roomPath(room.id));
    } catch (err) {
      setCreateError(describeError(err));
    } finally {
      setCreating(false);
    }
  };

  const error = list.failure ? describeError(list.failure) : (createError ?? loadError);

  return (
    <div className="rooms">
      <div className="rooms-head">
        <h2>Rooms</h2>
        {rooms && <span className="muted">{rooms.length}</span>}
      </div>
      <form className="new-room" onSubmit={create}>
        <input
          data-testid="new-room-name"
          value={name}
          onChange={(e) => {
            setName(e.target.value);
            if (createError) setCreateError(null);
          }}
          placeholder="New room name"
          aria-label="New room name"
          maxLength={60}
        />
        <button
          type="submit"
          className="btn btn-primary"
          data-testid="create-room"
          disabled={creating}
        >
          {creating ? "Creating…" : "Create"}
        </button>
      </form>
      {error && (
        <p className="notice notice-error rooms-error" data-testid="rooms-error" role="alert">
          {error}
        </p>
      )}
      <nav
        className="room-list"
        data-testid="room-list"
        aria-busy={rooms === null}
        data-unread-ready={rooms !== null && reads !== null}
      >
        {rooms === null && !list.failure ? (
          <div className="loading-rows" role="status" aria-label="Loading rooms">
            <div className="skeleton" />
            <div className="skeleton" />
            <div className="skeleton" />
          </div>
        ) : rooms?.length === 0 ? (
          <div className="empty" data-testid="rooms-empty">
            <div className="empty-icon" aria-hidden="true">
              #
            </div>
            <p>
              <strong>No rooms yet.</strong>
              <br />
              Create the first one above: a name like “general” or “launch”.
            </p>
          </div>
        ) : (
          rooms?.map((room) => {
            const active = room.id === activeRoomId;
            const count = unread[room.id] ?? 0;
            const left = reads?.[room.id]?.left === true;
            return (
              <a
                key={room.id}
                href={roomPath(room.id)}
                onClick={linkClick(roomPath(room.id))}
                className={`room-item${active ? " active" : ""}${count > 0 ? " unread" : ""}${left ? " left" : ""}`}
                data-testid="room-item"
                data-room-name={room.name}
                data-unread={count}
                data-last-seq={room.lastSeq ?? 0}
                aria-current={active ? "page" : undefined}
              >
                <span className="room-hash" aria-hidden="true">
                  #
                </span>
                <span className="room-main">
                  <span className="room-name">{room.name}</span>
                  <span className="room-meta">
                    {left ? "You left · " : ""}
                    {formatRelative(room.lastActivityAt, now)} ·{" "}
                    {room.memberCount === 1 ? "1 member" : `${room.memberCount} members`}
                  </span>
                </span>
                {count > 0 && (
                  <span className="unread-badge" data-testid="unread-count">
                    {unreadLabel(count)}
                    <span className="sr-only">
                      {count === 1 ? " unread message" : " unread messages"}
                    </span>
                  </span>
                )}
              </a>
            );
          })
        )}
      </nav>
    </div>
  );
}
