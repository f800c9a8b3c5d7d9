/**
 * The game's registry: `matchmaker` (one per mode, the coordinator) and `match` (one per match).
 * Built by a function from the app's services rather than at module load, so the database and
 * the token secret are passed in and tests can run several apps side by side.
 *
 * @example
 * const registry = createRegistry({ auth, db }, { storage: "memory" });
 * const client = createClient<GameRegistry>("http://localhost:3000");
 */
import { type Logger, type StorageOption, setup } from "troupe";
import { createMatch } from "./match.js";
import { createMatchmaker } from "./matchmaker.js";
import type { GameServices } from "./services.js";

export function createRegistry(
  services: GameServices,
  opts: { storage?: StorageOption; logger?: Logger } = {},
) {
  return setup({
    use: {
      matchmaker: createMatchmaker(services),
      match: createMatch(services),
    },
    storage: opts.storage,
    logger: opts.logger,
  });
}

export type GameRegistry = ReturnType<typeof createRegistry>;
export type { SnapshotEvent, WireSnapshot } from "../interest/wire.js";
export type { MatchInput, ScoreLine, WelcomeEvent } from "./match.js";
export type { MatchedEvent, QueueStatus } from "./matchmaker.js";
