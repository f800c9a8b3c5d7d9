/**
 * Group commit. Instances hand their writes here instead of to the driver; everything handed in
 * during one event-loop turn (and everything that arrives while a commit is in flight) goes to
 * the driver as one atomic batch, so N actors changing at once cost one write and one fsync.
 *
 * State is serialized lazily, when its batch is cut, so an actor changed by ten actions in a turn
 * is serialized once. Each caller gets the promise of the batch that carries its write; the
 * instance sends an action's reply only after that promise resolves.
 *
 * A batch the driver refuses (a full disk, a failing database) is never retried: its writers get
 * a `storage_error`, `onBatchFailed` names every actor it carried so the host can reset them to
 * what storage holds, and those actors' writes queued meanwhile are dropped (they were made on
 * top of the lost changes). Their callers learn it from the instance, which fails every write
 * once its actor has failed, even one whose batch later succeeds without it.
 */
import { TroupeError } from "../errors.js";
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

export interface GroupCommitterOptions {
  /**
   * A batch failed: `actorIds` lost writes and must be reset. Runs before the writers hear
   * of it, so by the time a caller sees the error its actor already knows.
   */
  onBatchFailed?: (actorIds: ReadonlySet<string>, error: TroupeError) => void;
}

export class GroupCommitter {
  private states = new Map<string, () => SerializedState>();
  private kv = new Map<string, { actorId: string; key: Uint8Array; value: Uint8Array | null }>();
  private alarms = new Map<string, number | null>();
  private destroyed = new Set<string>();
  private next: Deferred | null = null;
  /** The batches with the driver now (their writers' promises), oldest first. */
  private inFlight: Promise<void>[] = [];
  /** How many batches the driver takes at once (`StorageDriver.maxCommitsInFlight`). */
  private readonly maxInFlight: number;
  /** Since when a batch has been with the driver (for `stats.busyMs`). */
  private busySince = 0;
  private scheduled = false;
  /** Write calls queued for the next batch (for `stats.calls`). */
  private pendingCalls = 0;
  /** `pendingCalls` when the next batch was last considered (see run()). */
  private callsSeen = 0;
  /**
   * What has been committed so far, for benchmarks and tests: batches (one driver commit, one
   * fsync each), the writes they carried (states, KV entries, deletions; an actor's state once
   * per batch), the write calls they answered (an action's save is one), the milliseconds
   * at least one batch was with the driver (busyMs / elapsed time: how busy the disk path was)
   * and of those, the milliseconds two or more were (overlapMs).
   */
  readonly stats = { batches: 0, writes: 0, calls: 0, busyMs: 0, overlapMs: 0 };
  private overlapSince = 0;

  constructor(
    private readonly driver: StorageDriver,
    private readonly options: GroupCommitterOptions = {},
  ) {
    this.maxInFlight = Math.max(1, driver.maxCommitsInFlight ?? 1);
  }

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

  /**
   * A write call that joined one already queued: the actor changed again before its batch was
   * cut, so its queued state (serialized at the cut) carries this change too and no new entry
   * is needed. Counting it keeps `stats.calls` true and tells run() that writes are still
   * arriving, so a burst of actions on one actor gathers into one batch.
   */
  joined(): void {
    if (this.next) this.pendingCalls++;
  }

  /** Resolves when everything queued so far has been written (or has failed). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.inFlight, this.next?.promise]);
  }

  private enqueue(): Promise<void> {
    if (!this.next) this.next = deferred();
    this.pendingCalls++;
    if (this.inFlight.length < this.maxInFlight && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
    return this.next.promise;
  }

  /**
   * Cuts the queued writes into a batch and hands it to the driver. When it is durable, the next
   * batch (what was queued meanwhile) is cut and handed over at once, before this batch's
   * writers hear back: the disk never idles while replies are sent, and the replies' follow-up
   * actions gather into the batch after that. Each batch is still durable before its writers
   * resolve, and batches reach the driver in order.
   *
   * A driver that takes several batches at once (the file driver: two) gets the next one as
   * soon as something is queued, while the one before is still being synced; it answers them
   * in order, and fails the later ones with an earlier one (see `maxCommitsInFlight`).
   */
  private run(): void {
    this.scheduled = false;
    const waiter = this.next;
    if (!waiter || this.inFlight.length >= this.maxInFlight) return;
    if (this.inFlight.length > 0 && this.pendingCalls > this.callsSeen) {
      // This batch would overlap one being synced. Writes still arriving (the rest of a burst
      // of actions read from the sockets over several turns) join it first: a turn that adds
      // nothing cuts it, and so does the batch in flight becoming durable (run() again).
      this.callsSeen = this.pendingCalls;
      this.scheduled = true;
      setImmediate(() => this.run());
      return;
    }
    this.callsSeen = 0;
    this.next = null;
    const calls = this.pendingCalls;
    this.pendingCalls = 0;
    let batch: CommitBatch;
    try {
      batch = this.cut();
    } catch (err) {
      waiter.reject(err); // serializing failed: a bug, not storage
      this.runSoon();
      return;
    }
    this.handedOver(waiter.promise);
    // Whether an event-loop turn passed before the driver answered. A driver that answers
    // within the turn (the memory driver) gets its next batch in a later turn, as before, so
    // a chain of batches can never keep the loop from reading sockets.
    let turned = false;
    const mark = setImmediate(() => {
      turned = true;
    });
    let committed: Promise<void>;
    try {
      committed = this.driver.commit(batch);
    } catch (err) {
      committed = Promise.reject(err);
    }
    committed.then(
      () => {
        clearImmediate(mark);
        const s = this.stats;
        s.batches++;
        s.writes +=
          batch.states.length +
          batch.kvPuts.length +
          batch.kvDeletes.length +
          batch.destroyed.length;
        s.calls += calls;
        this.settled(waiter.promise);
        if (turned) this.run();
        else this.runSoon();
        waiter.resolve();
      },
      (err) => {
        clearImmediate(mark);
        const error = new TroupeError("storage_error", undefined, { cause: err });
        this.settled(waiter.promise);
        // Rejection handlers run later, after `failed` has told the host (synchronously).
        waiter.reject(error);
        this.failed(batch, error);
        this.runSoon();
      },
    );
  }

  private handedOver(batch: Promise<void>): void {
    const now = performance.now();
    if (this.inFlight.length === 0) this.busySince = now;
    if (this.inFlight.length === 1) this.overlapSince = now;
    this.inFlight.push(batch);
  }

  private settled(batch: Promise<void>): void {
    const now = performance.now();
    if (this.inFlight.length === 2) this.stats.overlapMs += now - this.overlapSince;
    if (this.inFlight.length === 1) this.stats.busyMs += now - this.busySince;
    this.inFlight.splice(this.inFlight.indexOf(batch), 1);
  }

  /** Runs the next batch in a later turn (after a failure: its writers hear of it first). */
  private runSoon(): void {
    if (this.next && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
  }

  /** Drops what the failed batch's actors queued since, then tells the host who they are. */
  private failed(batch: CommitBatch, error: TroupeError): void {
    const ids = new Set<string>(batch.destroyed);
    for (const s of batch.states) ids.add(s.actorId);
    for (const p of batch.kvPuts) ids.add(p.actorId);
    for (const d of batch.kvDeletes) ids.add(d.actorId);
    for (const a of batch.alarms) ids.add(a.actorId);
    for (const id of ids) this.states.delete(id);
    for (const [key, w] of this.kv) if (ids.has(w.actorId)) this.kv.delete(key);
    this.options.onBatchFailed?.(ids, error);
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
