/**
 * Placement: which live instance serves an actor. Today every actor lives in this process, and
 * this class guarantees exactly one live instance per (name, key), also when many requests for a
 * new key arrive at once: the first starts loading, the others wait for it. Running several
 * replicas later means replacing this class (backed by a distributed engine), nothing else.
 */
import type { AnyActorDefinition } from "../actor/definition.js";
import { encodeKey, normalizeKey } from "../actor/keys.js";
import { TroupeError } from "../errors.js";
import type { ActorInstance } from "../instance/instance.js";
import type { ActorRecord } from "../storage/driver.js";

export type ActorQuery =
  | { name: string; key?: unknown; mode?: "get" | "getOrCreate" | "create"; input?: unknown }
  | { name: string; id: string };

/**
 * Who is asking for an actor: what creation (`onBeforeCreate`) and the connection hooks are told.
 * `inProcess` marks `c.client()` calls from other actors; without params they are trusted.
 */
export interface Caller {
  params?: unknown;
  request?: Request;
  inProcess?: boolean;
}

/** How placement makes instances; implemented by the engine. */
export interface InstanceFactory {
  findByKey(name: string, key: string[]): Promise<ActorRecord | undefined>;
  findById(id: string): Promise<ActorRecord | undefined>;
  /**
   * Creates and starts a new actor once `onBeforeCreate` allowed the caller to; resolves
   * undefined if the key was taken meanwhile.
   */
  createNew(
    def: AnyActorDefinition,
    name: string,
    key: string[],
    input: unknown,
    caller: Caller,
  ): Promise<ActorInstance | undefined>;
  /** Starts an instance for a stored actor; `register` is called before its hooks run. */
  wake(
    def: AnyActorDefinition,
    record: ActorRecord,
    register: (i: ActorInstance) => void,
  ): Promise<ActorInstance>;
}

export class LocalPlacement {
  private readonly byKey = new Map<string, ActorInstance>();
  private readonly byId = new Map<string, ActorInstance>();
  private readonly loading = new Map<string, Promise<ActorInstance>>();
  /** Loads under way whose instance is not registered yet: they count toward `maxLive`. */
  private starting = 0;

  /** `maxLive`: most instances live at once (the registry's `maxLiveActors`); no cap by default. */
  constructor(
    private readonly defs: Record<string, AnyActorDefinition>,
    private readonly factory: InstanceFactory,
    private readonly maxLive = Number.POSITIVE_INFINITY,
  ) {}

  get actorNames(): string[] {
    return Object.keys(this.defs);
  }

  get liveCount(): number {
    return this.byId.size;
  }

  liveById(id: string): ActorInstance | undefined {
    return this.byId.get(id);
  }

  live(): ActorInstance[] {
    return [...this.byId.values()];
  }

  definition(name: unknown): AnyActorDefinition {
    const def =
      typeof name === "string" && Object.hasOwn(this.defs, name) ? this.defs[name] : undefined;
    if (!def) {
      throw new TroupeError(
        "unknown_actor_type",
        `There is no actor named "${String(name)}" in this registry. Known actors: ${Object.keys(this.defs).join(", ") || "none"}.`,
      );
    }
    return def;
  }

  /**
   * Returns a ready instance for the query, creating or waking the actor as the mode allows.
   * `caller` is who asks: a creation runs `onBeforeCreate` with it. Without one, the caller is
   * an outside caller with no params (the safe default).
   */
  async get(query: ActorQuery, caller: Caller = {}): Promise<ActorInstance> {
    const def = this.definition(query.name);
    if ("id" in query) return this.getById(query.name, query.id);
    const key = normalizeKey(query.key);
    const mode = query.mode ?? "get";
    const slot = placementKey(query.name, key);
    for (;;) {
      const live = this.byKey.get(slot);
      if (live) {
        if (mode === "create") throw alreadyExists(query.name, key);
        if (live.status === "ready") return live;
        if (live.status === "stopping" || live.status === "stopped") {
          await live.stopped;
          continue;
        }
      }
      const pending = this.loading.get(slot);
      if (pending) {
        // Someone else is loading this key: wait, then look again (their mode may differ).
        const inst = await pending.catch(() => undefined);
        if (inst && inst.status === "ready" && mode !== "create") return inst;
        if (inst && mode === "create") throw alreadyExists(query.name, key);
        continue;
      }
      if (this.byId.size + this.starting >= this.maxLive) {
        await this.makeRoom();
        continue; // look again: the key may have been loaded meanwhile
      }
      this.starting++;
      let counted = true;
      const registered = () => {
        if (counted) this.starting--;
        counted = false;
      };
      const load = this.load(
        def,
        query.name,
        key,
        mode,
        "input" in query ? query.input : undefined,
        caller,
        registered,
      );
      this.loading.set(slot, load);
      try {
        return await load;
      } finally {
        registered();
        this.loading.delete(slot);
      }
    }
  }

  private async load(
    def: AnyActorDefinition,
    name: string,
    key: string[],
    mode: "get" | "getOrCreate" | "create",
    input: unknown,
    caller: Caller,
    registered: () => void,
  ): Promise<ActorInstance> {
    for (;;) {
      const record = await this.factory.findByKey(name, key);
      if (record) {
        if (mode === "create") throw alreadyExists(name, key);
        return this.wake(def, record, registered);
      }
      if (mode === "get") throw notFound(name, key);
      const created = await this.factory.createNew(def, name, key, input, caller);
      if (created) {
        this.register(created);
        registered();
        return created;
      }
      // Another process created it between our lookup and our insert.
      if (mode === "create") throw alreadyExists(name, key);
    }
  }

  private async getById(name: string, id: string): Promise<ActorInstance> {
    if (typeof id !== "string" || id.length === 0 || id.length > 128) {
      throw new TroupeError("actor_not_found", "Actor ids are non-empty strings.");
    }
    const live = this.byId.get(id);
    if (live && live.name === name && live.status === "ready") return live;
    const record = await this.factory.findById(id);
    if (!record || record.name !== name) {
      throw new TroupeError("actor_not_found", `No "${name}" actor has the id "${id}".`);
    }
    const inst = await this.get({ name, key: record.key, mode: "get" });
    if (inst.id !== id) {
      throw new TroupeError(
        "actor_not_found",
        `The "${name}" actor with id "${id}" was destroyed.`,
      );
    }
    return inst;
  }

  private async wake(
    def: AnyActorDefinition,
    record: ActorRecord,
    onRegistered: () => void,
  ): Promise<ActorInstance> {
    let registered: ActorInstance | undefined;
    try {
      return await this.factory.wake(def, record, (inst) => {
        registered = inst;
        this.register(inst);
        onRegistered();
      });
    } catch (err) {
      if (registered) this.forget(registered);
      throw err;
    }
  }

  /**
   * At the live-actor cap: puts the actor idle the longest to sleep (its state is saved; the next
   * call wakes it), or waits for one already stopping. Refuses only when every live actor is busy
   * (running something, connected, or `noSleep`). Runs only at the cap, so the scan is off the
   * path of calls to live actors.
   */
  private async makeRoom(): Promise<void> {
    let idlest: ActorInstance | undefined;
    let idlestSince = Number.POSITIVE_INFINITY;
    let stopping: ActorInstance | undefined;
    for (const inst of this.byId.values()) {
      const since = inst.idleSince;
      if (since !== undefined && since < idlestSince) {
        idlest = inst;
        idlestSince = since;
      } else if (inst.status === "stopping") stopping ??= inst;
    }
    if (idlest) return idlest.stop("sleep");
    if (stopping) return stopping.stopped;
    throw new TroupeError(
      "too_many_actors",
      `This server already runs ${this.maxLive} actors (maxLiveActors) and none of them is idle, so none can sleep to make room. Retry later.`,
    );
  }

  register(inst: ActorInstance): void {
    this.byKey.set(placementKey(inst.name, inst.key), inst);
    this.byId.set(inst.id, inst);
  }

  forget(inst: ActorInstance): void {
    const slot = placementKey(inst.name, inst.key);
    if (this.byKey.get(slot) === inst) this.byKey.delete(slot);
    if (this.byId.get(inst.id) === inst) this.byId.delete(inst.id);
  }
}

export function placementKey(name: string, key: string[]): string {
  return `${name}\u0000${encodeKey(key)}`;
}

function notFound(name: string, key: string[]): TroupeError {
  return new TroupeError(
    "actor_not_found",
    `No "${name}" actor exists for key ${encodeKey(key)}. Use getOrCreate() or create() to make one.`,
  );
}

function alreadyExists(name: string, key: string[]): TroupeError {
  return new TroupeError(
    "actor_already_exists",
    `A "${name}" actor already exists for key ${encodeKey(key)}.`,
  );
}
