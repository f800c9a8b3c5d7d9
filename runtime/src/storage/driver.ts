/**
 * The storage boundary. Every driver (memory, file, postgres) implements this one interface, and
 * the shared conformance suite in `common.case.test.ts` runs against each of them.
 *
 * Drivers store three things per actor: its record (id, name, key, creation time and the opaque
 * persisted data: state and schedule, serialized by the instance), its KV entries, and the time of
 * its next alarm (so that sleeping actors can be woken without loading all of them).
 *
 * Writes arrive through `commit`, already coalesced by the group committer (`commit.ts`): one
 * call carries the changes of every actor that changed in one event-loop turn, and must be applied
 * atomically and durably before the returned promise resolves.
 *
 * Contract details every driver keeps (the conformance suite checks them):
 * - writes addressed to an unknown actor id are ignored;
 * - within `kvPuts`, a repeated (actorId, key) means the last one wins;
 * - times are whole milliseconds; `data` is well-formed Unicode (JSON text, no raw NUL);
 * - returned bytes and records belong to the caller (drivers copy in and out);
 * - `close()` may be called twice; `createActor` with an id already used by another key throws.
 */

export interface ActorRecord {
  /** Opaque unique id, assigned at creation; a destroyed and re-created key gets a new id. */
  id: string;
  name: string;
  key: string[];
  createdAt: number;
  /** The persisted data written by the instance (versioned JSON text); opaque to drivers. */
  data: string;
}

export interface KvEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/**
 * One atomic unit of writes. The committer guarantees that the parts do not overlap: an actor id
 * appears at most once in `states` and `alarms`; a (actorId, key) pair appears in at most one of
 * `kvPuts` and `kvDeletes`; a destroyed actor appears nowhere else in the same batch.
 */
export interface CommitBatch {
  states: { actorId: string; data: string }[];
  kvPuts: { actorId: string; key: Uint8Array; value: Uint8Array }[];
  kvDeletes: { actorId: string; key: Uint8Array }[];
  /** Next alarm time per actor (ms since epoch), or null when it has none left. */
  alarms: { actorId: string; at: number | null }[];
  /** Actors removed for good, with their data, KV entries and alarm. */
  destroyed: string[];
}

export interface KvListOptions {
  /** Return at most this many entries. */
  limit?: number;
  /** Descending key order instead of ascending. */
  reverse?: boolean;
}

export interface StorageDriver {
  /** "memory", "file" or "postgres": used in logs and benchmarks. */
  readonly kind: string;

  /**
   * Durably creates an actor. Resolves `false`, writing nothing, if an actor with the same
   * (name, key) already exists. Must be safe against concurrent calls for the same key.
   */
  createActor(record: ActorRecord): Promise<boolean>;
  findActorByKey(name: string, key: readonly string[]): Promise<ActorRecord | undefined>;
  findActorById(id: string): Promise<ActorRecord | undefined>;

  /** Applies a batch atomically (all or nothing) and durably. */
  commit(batch: CommitBatch): Promise<void>;

  /**
   * How many commits the group committer may hand over before the first of them is durable
   * (default 1: it waits for each). A driver that takes more applies and resolves them in the
   * order they were handed over, each only once every earlier one is durable, and when one
   * fails, fails every commit handed over after it and before its failure was reported
   * (those were built on top of it), leaving no trace of any of them.
   */
  readonly maxCommitsInFlight?: number;

  /** Values for the given keys, `null` where absent, in the same order. */
  kvGet(actorId: string, keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]>;
  /** Entries whose key starts with `prefix`, ordered by key bytes (unsigned, lexicographic). */
  kvList(actorId: string, prefix: Uint8Array, options?: KvListOptions): Promise<KvEntry[]>;

  /** Every actor that has an alarm set, soonest first. Read at start-up to re-arm alarms. */
  listAlarms(): Promise<{ actorId: string; at: number }[]>;

  /** Releases files, pools and locks. The driver is unusable afterwards. */
  close(): Promise<void>;
}

/** Empty batch, handy for building one up. */
export function emptyBatch(): CommitBatch {
  return { states: [], kvPuts: [], kvDeletes: [], alarms: [], destroyed: [] };
}
