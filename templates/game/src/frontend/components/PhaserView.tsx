/**
 * The one Phaser component: a Phaser 4 game with the arena scene, sized to its parent. Loaded
 * lazily (Phaser is most of the page's weight), so the lobby shows at once.
 */
import Phaser from "phaser";
import { useEffect, useRef } from "react";
import { ArenaScene } from "../game/ArenaScene.js";
import type { MatchSession } from "../game/match-session.js";

export default function PhaserView({ session }: { session: MatchSession }) {
  const parent = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = parent.current;
    if (!el) return;
    const game = new Phaser.Game({
      type: Phaser.AUTO,
      parent: el,
      backgroundColor: "#11141d",
      scale: { mode: Phaser.Scale.RESIZE, width: el.clientWidth, height: el.clientHeight },
      input: { activePointers: 3 },
      banner: false,
      scene: new ArenaScene(session, () => session.getView().seats),
    });
    return () => game.destroy(true);
  }, [session]);

  return <div className="phaser" ref={parent} data-testid="arena-canvas" />;
}
