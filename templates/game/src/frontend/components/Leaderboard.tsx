/** The best ratings, from SQL (`GET /api/leaderboard`): loading, error (with retry) and empty states. */
import { useCallback, useEffect, useState } from "react";
import { fetchLeaderboard, type LeaderboardRow } from "../lib/api.js";
import { describeError } from "../lib/errors.js";
import { navigate } from "../lib/router.js";
import { storedGuest } from "../lib/storage.js";

type State =
  | { kind: "loading" }
  | { kind: "error"; message: string }
  | { kind: "ready"; rows: LeaderboardRow[] };

export function Leaderboard() {
  const [state, setState] = useState<State>({ kind: "loading" });
  const me = storedGuest()?.player.id;

  const load = useCallback(() => {
    setState({ kind: "loading" });
    fetchLeaderboard().then(
      (rows) => setState({ kind: "ready", rows }),
      (err) => setState({ kind: "error", message: describeError(err) }),
    );
  }, []);
  useEffect(load, [load]);

  return (
    <main className="lobby">
      <div className="card wide" data-testid="leaderboard">
        <h1>Leaderboard</h1>
        {state.kind === "loading" ? (
          <p className="muted" aria-busy="true">
            Loading…
          </p>
        ) : state.kind === "error" ? (
          <>
            <p className="error" role="alert">
              {state.message}
            </p>
            <button type="button" className="secondary" onClick={load}>
              Try again
            </button>
          </>
        ) : state.rows.length === 0 ? (
          <p className="muted">No finished matches yet. Play one and you will be the first here.</p>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th>#</th>
                <th>Player</th>
                <th>Rating</th>
                <th>Games</th>
                <th>Wins</th>
              </tr>
            </thead>
            <tbody>
              {state.rows.map((r) => (
                <tr key={r.id} className={r.id === me ? "me" : undefined}>
                  <td>{r.rank}</td>
                  <td>{r.name}</td>
                  <td>{r.rating}</td>
                  <td>{r.games}</td>
                  <td>{r.wins}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <div className="row">
          <button type="button" onClick={() => navigate("game")}>
            Back to the game
          </button>
        </div>
      </div>
    </main>
  );
}
