/**
 * Group commit. Instances hand their writes here instead of to the driver; everything handed in
 * during one event-loop turn (and everything that arrives while a commit is in flight) goes to
 * the driver as one atomic batch, so N actors changing at once cost one write and one fsync.
 *
 * State is serialized lazily, when its batch is cut, so an actor changed by ten actions in a turn
 * is serialized once. Each caller gets the promise of the batch that carries its write; the
 * instance sends an action's reply only after that promise resolves.
 */
import type { CommitBatch, StorageDriver } from "./driver.js";

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch nobody awaits must not become an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** What an instance hands over for its state write. */
export interface SerializedState {
  data: string;
  /** The next alarm time if it changed since the last write (null: none left). */
  alarm?: number | null;
}

const kvId = (actorId: string, key: Uint8Array) =>
  `${actorId}\u0000${Buffer.from(key).toString("base64")}`;

export class GroupCommitter {
  private states = new Map<string, () => SerializedState>();
  private kv = new Map<string, { actorId: string; key: Uint8Array; value: Uint8Array | null }>();
  private alarms = new Map<string, number | null>();
  private destroyed = new Set<string>();
  private next: Deferred | null = null;
  /** The batch with the driver now, if any (its writers' promise). */
  private current: Promise<void> | null = null;
  private scheduled = false;
  /** Batches written so far and writes they carried, for benchmarks and tests. */
  readonly stats = { batches: 0, writes: 0 };

  constructor(private readonly driver: StorageDriver) {}

  /**
   * Queues the actor's state; `serialize` runs when the batch is cut. Its `alarm` (the actor's
   * next alarm time, when changed) goes into the same batch, so the alarm index and the stored
   * schedule can never disagree after a crash.
   */
  writeState(actorId: string, serialize: () => SerializedState): Promise<void> {
    this.states.set(actorId, serialize);
    return this.enqueue();
  }

  kvPut(actorId: string, key: Uint8Array, value: Uint8Array): Promise<void> {
    this.kv.set(kvId(actorId, key), { actorId, key, value });
    return this.enqueue();
  }

  kvDelete(actorId: string, key: Uint8Array): Promise<void> {
    this.kv.set(kvId(actorId, key), { actorId, key, value: null });
    return this.enqueue();
  }

  destroy(actorId: string): Promise<void> {
    this.states.delete(actorId);
    this.alarms.delete(actorId);
    for (const [id, w] of this.kv) if (w.actorId === actorId) this.kv.delete(id);
    this.destroyed.add(actorId);
    return this.enqueue();
  }

  /** Resolves when everything queued so far has been written (or has failed). */
  async flush(): Promise<void> {
    await Promise.allSettled([this.current, this.next?.promise]);
  }

  private enqueue(): Promise<void> {
    if (!this.next) this.next = deferred();
    if (!this.current && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
    return this.next.promise;
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    const waiter = this.next;
    if (!waiter || this.current) return;
    this.next = null;
    this.current = waiter.promise;
    let batch: CommitBatch | undefined;
    try {
      batch = this.cut();
      await this.driver.commit(batch);
      this.stats.batches++;
      this.stats.writes +=
        batch.states.length + batch.kvPuts.length + batch.kvDeletes.length + batch.destroyed.length;
      waiter.resolve();
    } catch (err) {
      waiter.reject(err);
    } finally {
      this.current = null;
      if (this.next) {
        this.scheduled = true;
        setImmediate(() => this.run());
      }
    }
  }

  private cut(): CommitBatch {
    const batch: CommitBatch = {
      states: [],
      kvPuts: [],
      kvDeletes: [],
      alarms: [],
      destroyed: [...this.destroyed],
    };
    const states = this.states;
    this.states = new Map();
    for (const [actorId, serialize] of states) {
      const { data, alarm } = serialize();
      batch.states.push({ actorId, data });
      if (alarm !== undefined) this.alarms.set(actorId, alarm);
    }
    for (const w of this.kv.values()) {
      if (w.value) batch.kvPuts.push({ actorId: w.actorId, key: w.key, value: w.value });
      else batch.kvDeletes.push({ actorId: w.actorId, key: w.key });
    }
    for (const [actorId, at] of this.alarms) batch.alarms.push({ actorId, at });
    this.kv = new Map();
    this.alarms = new Map();
    this.destroyed = new Set();
    return batch;
  }
}
