/**
 * `window.__game`: a read-only view of the running match for tests (the e2e tests read positions
 * through it) and for the curious in the browser console. It changes nothing in the game.
 *
 * @example
 * window.__game?.entities() // the entity table, as the server's snapshots made it
 */
import type { EntityView } from "../../interest/interest.js";
import type { ScoreLine } from "../../sim/scores.js";
import type { MatchSession } from "./match-session.js";

export interface GameDebugApi {
  matchId: string;
  /** The player's entity id, once welcomed. */
  you(): string | null;
  status(): string;
  phase(): string | null;
  /** What the page knows of the world (from the snapshots). */
  entities(): EntityView[];
  /** The own player as drawn (predicted), with the aim (radians) of the last input sent. */
  me(): { x: number; y: number; a: number; alive: boolean; shielded: boolean } | null;
  /**
   * Where the scene draws each entity now: the own player predicted, the others interpolated,
   * bullets where they fly at the render tick (a bullet not fired yet then is not drawn).
   */
  drawn(): { id: string; k: EntityView["k"]; x: number; y: number }[];
  /** The HUD's score table. */
  scores(): ScoreLine[];
  /**
   * Where world point (x, y) is on the page now, in CSS pixels from the arena canvas's top left
   * (the scene's camera), or null before the scene draws. Tests point the mouse with it.
   */
  toScreen(x: number, y: number): { x: number; y: number } | null;
}

/** World to canvas CSS pixels, as the arena scene's camera has it now. */
export type Projection = (x: number, y: number) => { x: number; y: number };

let projection: Projection | null = null;

/** The arena scene registers its camera's projection here (null when it shuts down). */
export function setProjection(next: Projection | null): void {
  projection = next;
}

declare global {
  interface Window {
    __game?: GameDebugApi;
  }
}

/** Exposes the session as `window.__game`; returns the function that removes it. */
export function exposeForTests(session: MatchSession, matchId: string): () => void {
  window.__game = {
    matchId,
    you: () => session.getView().you,
    status: () => session.getView().status,
    phase: () => session.getView().phase,
    entities: () => session.entities(),
    me: () => session.frame().me,
    drawn: () => {
      const frame = session.frame();
      const out = frame.others.map((e) => ({ id: e.view.id, k: e.view.k, ...e.pose }));
      if (frame.me && frame.you) out.push({ id: frame.you, k: "p", ...frame.me });
      return out.map(({ id, k, x, y }) => ({ id, k, x, y }));
    },
    scores: () => session.getView().scores,
    toScreen: (x, y) => projection?.(x, y) ?? null,
  };
  return () => {
    delete window.__game;
  };
}
