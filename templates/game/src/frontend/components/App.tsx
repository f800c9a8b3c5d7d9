/**
 * The screens: lobby (name, Play, the queue), arena (a live match), results, and the
 * leaderboard page. A match id and ticket in sessionStorage (a reload mid-match) go straight
 * back to the arena.
 */
import { useState } from "react";
import type { MatchResultsEvent } from "../game/match-session.js";
import { useRoute } from "../lib/router.js";
import { type StoredMatch, storedMatch } from "../lib/storage.js";
import { Arena } from "./Arena.js";
import { Leaderboard } from "./Leaderboard.js";
import { Lobby } from "./Lobby.js";
import { Results } from "./Results.js";

type Screen =
  | { kind: "lobby"; notice?: string }
  | { kind: "arena"; match: StoredMatch }
  | { kind: "results"; results: MatchResultsEvent; you: string | null };

export function App() {
  const route = useRoute();
  const [screen, setScreen] = useState<Screen>(() => {
    const match = storedMatch();
    return match ? { kind: "arena", match } : { kind: "lobby" };
  });

  if (route === "leaderboard") return <Leaderboard />;
  switch (screen.kind) {
    case "lobby":
      return (
        <Lobby notice={screen.notice} onMatched={(match) => setScreen({ kind: "arena", match })} />
      );
    case "arena":
      return (
        <Arena
          key={screen.match.matchId}
          match={screen.match}
          onResults={(results, you) => setScreen({ kind: "results", results, you })}
          onLeave={(notice) => setScreen({ kind: "lobby", notice })}
        />
      );
    case "results":
      return (
        <Results
          results={screen.results}
          you={screen.you}
          onPlayAgain={() => setScreen({ kind: "lobby" })}
        />
      );
  }
}
