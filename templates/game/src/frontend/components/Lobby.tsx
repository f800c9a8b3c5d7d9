/**
 * The lobby: a name, Play, and the queue (elapsed time, Cancel) until the matchmaker says which
 * match. The guest token is kept in localStorage and made anew when the name changes or the
 * server no longer accepts it.
 */
import { type FormEvent, useEffect, useRef, useState } from "react";
import type { MatchedEvent } from "../../actors/index.js";
import { QueueSession } from "../game/queue.js";
import { createGuest } from "../lib/api.js";
import { client } from "../lib/client.js";
import { describeError, reasonOf } from "../lib/errors.js";
import { navigate } from "../lib/router.js";
import { type StoredMatch, saveGuest, saveMatch, storedGuest } from "../lib/storage.js";

type State =
  | { kind: "idle"; error?: string }
  | { kind: "joining" }
  | { kind: "queued"; since: number };

const STALE_GUEST = new Set(["invalid_token", "token_expired", "auth_required"]);

export function Lobby({
  notice,
  onMatched,
}: {
  notice?: string;
  onMatched(match: StoredMatch): void;
}) {
  const [name, setName] = useState(() => storedGuest()?.player.name ?? "");
  const [state, setState] = useState<State>({ kind: "idle", error: notice });
  const queue = useRef<QueueSession | null>(null);

  useEffect(() => () => void queue.current?.cancel(), []);

  async function play(retried = false): Promise<void> {
    const wanted = name.trim();
    setState({ kind: "joining" });
    try {
      let guest = storedGuest();
      if (!guest || guest.player.name !== wanted) {
        guest = await createGuest(wanted);
        saveGuest(guest);
      }
      const session = new QueueSession(client, guest.token, {
        matched: (m: MatchedEvent) => {
          queue.current = null;
          const match = { matchId: m.matchId, ticket: m.ticket };
          saveMatch(match);
          onMatched(match);
        },
        failed: (err) => {
          queue.current = null;
          if (!retried && STALE_GUEST.has(reasonOf(err) ?? "")) {
            saveGuest(null);
            void play(true);
            return;
          }
          setState({ kind: "idle", error: describeError(err) });
        },
      });
      queue.current = session;
      session.start();
      setState({ kind: "queued", since: Date.now() });
    } catch (err) {
      setState({ kind: "idle", error: describeError(err) });
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    if (state.kind === "idle") void play();
  }

  async function cancel() {
    const session = queue.current;
    queue.current = null;
    setState({ kind: "idle" });
    await session?.cancel();
  }

  return (
    <main className="lobby">
      <div className="card">
        <h1>Troupe arena</h1>
        <p className="muted">
          Top-down shooter. Move with WASD or the arrows, aim with the mouse, shoot with a click or
          Space. On a phone: left stick moves, right stick aims and fires.
        </p>
        {state.kind === "queued" ? (
          <div className="queue" aria-live="polite">
            <div className="spinner" aria-hidden="true" />
            <p>
              Looking for a match… <Elapsed since={state.since} />
            </p>
            <p className="muted small">Alone? Bots join after a few seconds.</p>
            <button type="button" className="secondary" onClick={() => void cancel()}>
              Cancel
            </button>
          </div>
        ) : (
          <form onSubmit={submit}>
            <label htmlFor="name">Your name</label>
            <input
              id="name"
              value={name}
              maxLength={20}
              autoComplete="nickname"
              placeholder="e.g. Ada"
              onChange={(e) => setName(e.target.value)}
              disabled={state.kind === "joining"}
            />
            <button type="submit" disabled={state.kind === "joining" || name.trim() === ""}>
              {state.kind === "joining" ? "Joining…" : "Play"}
            </button>
            {state.kind === "idle" && state.error ? (
              <p className="error" role="alert">
                {state.error}
              </p>
            ) : null}
          </form>
        )}
        <p className="links">
          <a
            href="/leaderboard"
            onClick={(e) => {
              e.preventDefault();
              navigate("leaderboard");
            }}
          >
            Leaderboard
          </a>
        </p>
      </div>
    </main>
  );
}

function Elapsed({ since }: { since: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(t);
  }, []);
  return <span className="elapsed">{Math.floor((now - since) / 1000)} s</span>;
}
