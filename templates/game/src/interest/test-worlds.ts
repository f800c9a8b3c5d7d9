// Shared by the interest tests: a world played by bots, and what a player should know of it.
import { botInput } from "../sim/bots.js";
import { step, type TickInput, type World } from "../sim/step.js";
import { type EntityView, inRect, positionAt, viewRect, worldViews } from "./interest.js";

/** One step with every player driven by the bots' logic. */
export function tickBots(world: World): World {
  const inputs: Record<string, TickInput> = {};
  for (const id of Object.keys(world.players)) inputs[id] = botInput(world, id);
  return step(world, inputs).world;
}

/** What a player at (x, y) should know: every entity in its view, found without any grid. */
export function expectedAt(world: World, x: number, y: number): Map<string, EntityView> {
  const rect = viewRect(x, y);
  return new Map(
    worldViews(world).flatMap((v) => {
      const at = positionAt(v, world.tick);
      return inRect(rect, at.x, at.y) ? [[v.id, v]] : [];
    }),
  );
}
