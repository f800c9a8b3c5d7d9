/**
 * A live match: the Phaser scene, the HUD over it, the touch sticks on touch screens, and the
 * "Reconnecting…" banner while the connection is down. Ends with the results, or back to the
 * lobby with the reason when the match refuses or drops the player for good.
 */
import { lazy, Suspense, useEffect, useState, useSyncExternalStore } from "react";
import { exposeForTests } from "../game/debug.js";
import { type MatchResultsEvent, MatchSession } from "../game/match-session.js";
import { client } from "../lib/client.js";
import { describeError } from "../lib/errors.js";
import type { StoredMatch } from "../lib/storage.js";
import { Hud } from "./Hud.js";
import { TouchControls, useTouchScreen } from "./TouchControls.js";

const PhaserView = lazy(() => import("./PhaserView.js"));

export function Arena({
  match,
  onResults,
  onLeave,
}: {
  match: StoredMatch;
  onResults(results: MatchResultsEvent, you: string | null): void;
  onLeave(notice?: string): void;
}) {
  const [session] = useState(() => new MatchSession(client, match.matchId, match.ticket));
  const view = useSyncExternalStore(session.subscribe, session.getView);
  const touch = useTouchScreen();

  useEffect(() => {
    session.start();
    const hide = exposeForTests(session, match.matchId);
    return () => {
      hide();
      void session.dispose();
    };
  }, [session, match.matchId]);

  useEffect(() => {
    if (view.results) onResults(view.results, view.you);
  }, [view.results, view.you, onResults]);

  if (view.status === "closed" && view.error) {
    return (
      <main className="lobby">
        <div className="card">
          <h1>Not in the match</h1>
          <p className="error" role="alert">
            {describeError(view.error)}
          </p>
          <button type="button" onClick={() => onLeave()}>
            Back to the lobby
          </button>
        </div>
      </main>
    );
  }

  return (
    <main className="arena" data-status={view.status} data-phase={view.phase ?? "joining"}>
      <Suspense fallback={<div className="phaser loading">Loading the arena…</div>}>
        <PhaserView session={session} />
      </Suspense>
      <Hud session={session} view={view} />
      {view.status === "reconnecting" ? (
        <div className="banner" role="status">
          Reconnecting…
        </div>
      ) : view.status === "connecting" ? (
        <div className="banner" role="status">
          Joining the match…
        </div>
      ) : null}
      {touch ? <TouchControls controls={session.controls} /> : null}
    </main>
  );
}
