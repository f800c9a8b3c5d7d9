/**
 * `c.kv`: a per-actor key-value store on the same driver as state. Writes join the group commit
 * and resolve once durable; reads first wait for this actor's writes still in flight, so an actor
 * always reads what it wrote. Once a write of the actor has failed, every write fails with that
 * `storage_error` (the instance is being reset to what storage holds).
 */
import type { ActorKv, KvKey, KvValue, KvValueType } from "../actor/kv-types.js";
import type { GroupCommitter } from "../storage/commit.js";
import type { StorageDriver } from "../storage/driver.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function keyBytes(key: KvKey): Uint8Array {
  if (typeof key === "string") return encoder.encode(key);
  if (key instanceof Uint8Array) return new Uint8Array(key);
  throw new TypeError("A KV key must be a string or a Uint8Array.");
}

function valueBytes(value: KvValue): Uint8Array {
  if (typeof value === "string") return encoder.encode(value);
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  throw new TypeError("A KV value must be a string, a Uint8Array or an ArrayBuffer.");
}

function decode(bytes: Uint8Array, type: KvValueType | undefined): any {
  return type === "binary" ? bytes : decoder.decode(bytes);
}

export class KvStore implements ActorKv {
  private lastWrite: Promise<void> = Promise.resolve();

  constructor(
    private readonly actorId: string,
    private readonly driver: StorageDriver,
    private readonly committer: GroupCommitter,
    /** The actor's failed write, if any. */
    private readonly storageFailure: () => Error | undefined,
  ) {}

  private track(write: () => Promise<void>): Promise<void> {
    const failure = this.storageFailure();
    if (failure) return Promise.reject(failure);
    // A batch that succeeds may have dropped this write after an earlier one failed.
    const p = write().then(this.assertStored);
    this.lastWrite = p.catch(() => {});
    return p;
  }

  private readonly assertStored = (): void => {
    const failure = this.storageFailure();
    if (failure) throw failure;
  };

  async get(key: KvKey, options?: { type?: KvValueType }): Promise<any> {
    const [v] = await this.getBatch([key], options);
    return v;
  }

  async getBatch(keys: KvKey[], options?: { type?: KvValueType }): Promise<any[]> {
    const bytes = keys.map(keyBytes);
    await this.lastWrite;
    const values = await this.driver.kvGet(this.actorId, bytes);
    return values.map((v) => (v === null ? null : decode(v, options?.type)));
  }

  put(key: KvKey, value: KvValue): Promise<void> {
    const k = keyBytes(key);
    const v = valueBytes(value);
    return this.track(() => this.committer.kvPut(this.actorId, k, v));
  }

  putBatch(entries: [KvKey, KvValue][]): Promise<void> {
    const bytes = entries.map(([k, v]) => [keyBytes(k), valueBytes(v)] as const);
    return this.track(() => {
      let last: Promise<void> = Promise.resolve();
      for (const [k, v] of bytes) last = this.committer.kvPut(this.actorId, k, v);
      return last;
    });
  }

  delete(key: KvKey): Promise<void> {
    const k = keyBytes(key);
    return this.track(() => this.committer.kvDelete(this.actorId, k));
  }

  deleteBatch(keys: KvKey[]): Promise<void> {
    const bytes = keys.map(keyBytes);
    return this.track(() => {
      let last: Promise<void> = Promise.resolve();
      for (const k of bytes) last = this.committer.kvDelete(this.actorId, k);
      return last;
    });
  }

  async list(
    prefix: KvKey,
    options?: { type?: KvValueType; keyType?: KvValueType; limit?: number; reverse?: boolean },
  ): Promise<any[]> {
    const p = keyBytes(prefix);
    await this.lastWrite;
    const entries = await this.driver.kvList(this.actorId, p, {
      limit: options?.limit,
      reverse: options?.reverse,
    });
    return entries.map((e) => [
      decode(e.key.subarray(p.length), options?.keyType),
      decode(e.value, options?.type),
    ]);
  }
}
