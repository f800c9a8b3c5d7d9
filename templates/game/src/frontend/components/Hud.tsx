/**
 * The arena's HUD: timer (or countdown), health (and the spawn shield), ping, the score table and
 * the kill feed. On a narrow screen (a phone held upright) the table would cover a quarter of
 * the arena: there it is one line (your rank, your kills and deaths, the leader) that a tap opens
 * into the table, and the feed shows only the last few kills, for a few seconds.
 */
import { useEffect, useState } from "react";
import type { ScoreLine } from "../../sim/scores.js";
import type { MatchSession, MatchView } from "../game/match-session.js";

/** Up to this width (CSS pixels) the HUD is the compact one (the last `@media` of styles.css). */
const NARROW_HUD_MAX_WIDTH = 480;
/** On a narrow screen: at most this many kills in the feed, each for this long. */
const NARROW_FEED_LINES = 2;
const NARROW_FEED_MS = 6000;

function useNarrow(): boolean {
  const query = `(max-width: ${NARROW_HUD_MAX_WIDTH}px)`;
  const [narrow, setNarrow] = useState(
    () => typeof window !== "undefined" && (window.matchMedia?.(query).matches ?? false),
  );
  useEffect(() => {
    const list = window.matchMedia?.(query);
    if (!list) return;
    const changed = () => setNarrow(list.matches);
    list.addEventListener("change", changed);
    changed();
    return () => list.removeEventListener("change", changed);
  }, [query]);
  return narrow;
}

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
  const narrow = useNarrow();
  const [tableOpen, setTableOpen] = useState(false);
  const wallNow = Date.now();
  const feed = narrow
    ? view.feed.filter((k) => wallNow - k.at < NARROW_FEED_MS).slice(0, NARROW_FEED_LINES)
    : view.feed;
  const table = (
    <table className={narrow ? "scores" : "hud scores"} data-testid="scores">
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
  );
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
              {view.shielded ? (
                <span className="tag shield" title="spawn protection: no damage until you fire">
                  shield
                </span>
              ) : null}
            </>
          ) : (
            "Respawning…"
          )}
        </div>
        <div className="pill" data-testid="ping">
          {view.pingMs === null ? "ping …" : `ping ${view.pingMs} ms`}
        </div>
      </div>
      {narrow ? (
        <div className="hud board">
          <button
            type="button"
            className="scoreline"
            data-testid="scoreline"
            aria-expanded={tableOpen}
            onClick={() => setTableOpen((open) => !open)}
          >
            <ScoreSummary scores={view.scores} you={view.you} />
            <span className="caret" aria-hidden="true">
              {tableOpen ? "▴" : "▾"}
            </span>
          </button>
          {tableOpen ? table : null}
        </div>
      ) : (
        table
      )}
      {feed.length > 0 ? (
        <ul className="hud feed" data-testid="feed">
          {feed.map((k) => (
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

/** The table in one line: your rank of how many, your kills and deaths, and who leads. */
function ScoreSummary({ scores, you }: { scores: ScoreLine[]; you: string | null }) {
  if (scores.length === 0) return <span>Scores</span>;
  const rank = scores.findIndex((s) => s.entity === you);
  const mine = rank >= 0 ? scores[rank]! : null;
  const leader = scores[0]!;
  return (
    <>
      {mine ? (
        <span title="your rank">
          #{rank + 1}
          <span className="muted">/{scores.length}</span>
        </span>
      ) : null}
      {mine ? (
        <span title="your kills / deaths">
          {mine.kills}/{mine.deaths}
        </span>
      ) : null}
      <span className="leader" title="the leader">
        {leader.entity === you ? "you lead" : `1st ${leader.name}`} {leader.kills}
      </span>
    </>
  );
}
