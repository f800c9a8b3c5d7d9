/** The arena's HUD: timer (or countdown), health, ping, the score table and the kill feed. */
import { useEffect, useState } from "react";
import type { MatchSession, MatchView } from "../game/match-session.js";

function useTick(ms: number): void {
  const [, set] = useState(0);
  useEffect(() => {
    const t = setInterval(() => set((n) => n + 1), ms);
    return () => clearInterval(t);
  }, [ms]);
}

function clock(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function Hud({ session, view }: { session: MatchSession; view: MatchView }) {
  useTick(250);
  const now = session.serverNow();
  const names = new Map(view.seats.map((s) => [s.entity, s.name]));
  const countdown =
    view.phase === "countdown" && view.startsAt !== null ? view.startsAt - now : null;
  return (
    <>
      <div className="hud top" data-testid="hud">
        <div className="pill" data-testid="timer">
          {view.phase === "live" && view.endsAt !== null
            ? clock(view.endsAt - now)
            : view.phase === "ended"
              ? "Match over"
              : "Get ready"}
        </div>
        <div className="pill hp" data-testid="hp">
          {view.alive ? (
            <>
              HP <meter min={0} max={100} low={35} optimum={100} value={view.hp ?? 100} />{" "}
              {view.hp ?? 100}
            </>
          ) : (
            "Respawning…"
          )}
        </div>
        <div className="pill" data-testid="ping">
          {view.pingMs === null ? "ping …" : `ping ${view.pingMs} ms`}
        </div>
      </div>
      <table className="hud scores" data-testid="scores">
        <thead>
          <tr>
            <th>Player</th>
            <th title="kills">K</th>
            <th title="deaths">D</th>
          </tr>
        </thead>
        <tbody>
          {view.scores.map((s) => (
            <tr key={s.entity} className={s.entity === view.you ? "me" : undefined}>
              <td>
                {s.name}
                {s.bot ? <span className="tag">bot</span> : null}
              </td>
              <td>{s.kills}</td>
              <td>{s.deaths}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {view.feed.length > 0 ? (
        <ul className="hud feed">
          {view.feed.map((k) => (
            <li key={`${k.at}-${k.killer}-${k.victim}`}>
              {names.get(k.killer) ?? k.killer} ✕ {names.get(k.victim) ?? k.victim}
            </li>
          ))}
        </ul>
      ) : null}
      {countdown !== null && countdown > 0 ? (
        <div className="countdown" data-testid="countdown">
          {Math.ceil(countdown / 1000)}
        </div>
      ) : null}
    </>
  );
}
