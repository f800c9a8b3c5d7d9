/**
 * The organisation's rooms, live: `listRooms()` at every (re)connect, then `roomsChanged`
 * events, which carry the whole list (newest activity first). Creating a room opens it.
 */
import { type FormEvent, useEffect, useState } from "react";
import type { RoomSummary } from "../../actors/index.js";
import { useChatActor } from "../lib/chat.js";
import { describeError } from "../lib/errors.js";
import { loadSeen, useNow } from "../lib/hooks.js";
import { linkClick, navigate, roomPath } from "../lib/router.js";
import { formatRelative } from "../lib/time.js";

export function RoomList({
  org,
  activeRoomId,
  onNames,
}: {
  org: string;
  activeRoomId: string | null;
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
  const seen = useSeen(activeRoomId);

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
      <nav className="room-list" data-testid="room-list" aria-busy={rooms === null}>
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
            const unread =
              !active && seen[room.id] !== undefined && room.lastActivityAt > seen[room.id]!;
            return (
              <a
                key={room.id}
                href={roomPath(room.id)}
                onClick={linkClick(roomPath(room.id))}
                className={`room-item${active ? " active" : ""}${unread ? " unread" : ""}`}
                data-testid="room-item"
                data-room-name={room.name}
                aria-current={active ? "page" : undefined}
              >
                <span className="room-hash" aria-hidden="true">
                  #
                </span>
                <span className="room-main">
                  <span className="room-name">{room.name}</span>
                  <span className="room-meta">
                    {formatRelative(room.lastActivityAt, now)} ·{" "}
                    {room.memberCount === 1 ? "1 member" : `${room.memberCount} members`}
                  </span>
                </span>
                {unread && (
                  <span className="unread-dot">
                    <span className="sr-only">New messages</span>
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

function useSeen(activeRoomId: string | null): Record<string, number> {
  const [seen, setSeen] = useState(loadSeen);
  useEffect(() => {
    const update = () => setSeen(loadSeen());
    window.addEventListener("troupe-chat:seen", update);
    window.addEventListener("storage", update);
    return () => {
      window.removeEventListener("troupe-chat:seen", update);
      window.removeEventListener("storage", update);
    };
  }, []);
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-read when the open room changes.
  useEffect(() => setSeen(loadSeen()), [activeRoomId]);
  return seen;
}
