/**
 * Where the client turns what the match sends as its `snapshot` event into the simulation's own
 * types. The format itself lives once, in `interest/wire.ts` (the server encodes with it); this
 * module only reads a payload with its `decodeSnapshot` against the entities the client knows,
 * and hands the rest of the client a `Snapshot` of whole `EntityView`s.
 *
 * @example
 * match.on("snapshot", (payload) => {
 *   for (const kill of killsFromWire(payload)) scores = applyKill(scores, kill);
 *   table.apply(snapshotFromWire(payload, table.known));
 * });
 */
import type { Delta, EntityView } from "../../interest/interest.js";
import { decodeKills, decodeSnapshot, type Kill, WireError } from "../../interest/wire.js";

export type { Kill };
export { WireError };

/** One snapshot as the rest of the client uses it. */
export interface Snapshot {
  /** The server tick it shows. */
  t: number;
  /** The `seq` of this player's last input that tick applied (-1 before the first). */
  ack: number;
  delta: Delta;
}

/**
 * The snapshot carried by one `snapshot` event payload, read against `known` (what the client
 * knew before it: the compact format sends only the fields that changed). Does not change
 * `known`. Throws `WireError` for a payload it cannot read: the caller's copy is then out of
 * step with the server's, and only a full snapshot puts it right (`MatchSession` asks for one).
 */
export function snapshotFromWire(
  payload: unknown,
  known: ReadonlyMap<string, EntityView>,
): Snapshot {
  const { t, ack, ...delta } = decodeSnapshot(payload, known);
  return { t, ack, delta };
}

/**
 * The kills a `snapshot` event payload carries (empty when none), read without the entity table:
 * they are applied even when the entities cannot be (a copy out of step, waiting for a full
 * snapshot). Throws `WireError` when they cannot be read.
 */
export function killsFromWire(payload: unknown): Kill[] {
  return decodeKills(payload);
}
