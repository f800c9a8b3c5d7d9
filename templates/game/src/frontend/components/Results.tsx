/** The end of a match: each player's rank, score and rating change, and Play again. */
import type { MatchResultsEvent } from "../game/match-session.js";
import { navigate } from "../lib/router.js";
import { storedGuest } from "../lib/storage.js";

export function Results({
  results,
  onPlayAgain,
}: {
  results: MatchResultsEvent;
  you: string | null;
  onPlayAgain(): void;
}) {
  const me = storedGuest()?.player.id;
  const mine = results.lines.find((l) => l.playerId === me);
  return (
    <main className="lobby">
      <div className="card wide" data-testid="results">
        <h1>{mine?.won ? "You won!" : "Match over"}</h1>
        {mine ? (
          <p className="muted">
            You placed #{mine.rank} with {mine.kills} {mine.kills === 1 ? "kill" : "kills"}.
          </p>
        ) : null}
        <table className="table">
          <thead>
            <tr>
              <th>#</th>
              <th>Player</th>
              <th>Score</th>
              <th>Deaths</th>
              <th>Rating</th>
            </tr>
          </thead>
          <tbody>
            {results.lines.map((l) => (
              <tr key={l.playerId} className={l.playerId === me ? "me" : undefined}>
                <td>{l.rank}</td>
                <td>
                  {l.name}
                  {l.bot ? <span className="tag">bot</span> : null}
                </td>
                <td>{l.score}</td>
                <td>{l.deaths}</td>
                <td>
                  {l.bot ? (
                    "—"
                  ) : (
                    <>
                      {l.ratingBefore + l.ratingChange}{" "}
                      <span className={l.ratingChange >= 0 ? "up" : "down"}>
                        ({l.ratingChange >= 0 ? "+" : ""}
                        {l.ratingChange})
                      </span>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="row">
          <button type="button" onClick={onPlayAgain}>
            Play again
          </button>
          <button type="button" className="secondary" onClick={() => navigate("leaderboard")}>
            Leaderboard
          </button>
        </div>
      </div>
    </main>
  );
}
