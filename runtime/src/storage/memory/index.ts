/**
 * In-memory storage for tests and throwaway dev runs: plain Maps, nothing survives the process.
 * It follows the driver contract to the letter (atomic batches, unsigned byte order for KV keys,
 * unknown actor ids ignored) so that code tested on it behaves the same on file or Postgres.
 * Bytes are copied on the way in and out: a caller mutating its buffers never changes what is
 * stored, exactly as with a real store.
 */
import { encodeKey } from "../../actor/keys.js";
import type { ActorRecord, CommitBatch, KvEntry, KvListOptions, StorageDriver } from "../driver.js";
import { bytesToKey, copyBytes, keyToBytes, SortedKeyMap } from "../kv-index.js";

interface MemoryActor {
  record: ActorRecord;
  keyEnc: string;
  kv: SortedKeyMap<Uint8Array>;
  alarm: number | null;
}

export class MemoryDriver implements StorageDriver {
  readonly kind = "memory";
  private readonly actors = new Map<string, MemoryActor>();
  /** name -> encoded key -> actor id */
  private readonly byKey = new Map<string, Map<string, string>>();
  private closed = false;

  async createActor(record: ActorRecord): Promise<boolean> {
    this.assertOpen();
    const keyEnc = encodeKey(record.key);
    let names = this.byKey.get(record.name);
    if (names?.has(keyEnc)) return false;
    if (this.actors.has(record.id)) {
      throw new Error(`MemoryDriver: actor id ${JSON.stringify(record.id)} is already in use.`);
    }
    if (!names) {
      names = new Map();
      this.byKey.set(record.name, names);
    }
    names.set(keyEnc, record.id);
    this.actors.set(record.id, {
      record: copyRecord(record),
      keyEnc,
      kv: new SortedKeyMap(),
      alarm: null,
    });
    return true;
  }

  async findActorByKey(name: string, key: readonly string[]): Promise<ActorRecord | undefined> {
    this.assertOpen();
    const id = this.byKey.get(name)?.get(encodeKey(key));
    return id === undefined ? undefined : this.findActorSync(id);
  }

  async findActorById(id: string): Promise<ActorRecord | undefined> {
    this.assertOpen();
    return this.findActorSync(id);
  }

  async commit(batch: CommitBatch): Promise<void> {
    this.assertOpen();
    // Everything below is synchronous, so the batch is applied all at once or (on a thrown
    // error, which only a malformed batch can cause) before anything else observes it.
    const puts = batch.kvPuts.map((p) => ({
      actor: this.actors.get(p.actorId),
      key: bytesToKey(p.key),
      value: copyBytes(p.value),
    }));
    const deletes = batch.kvDeletes.map((d) => ({
      actor: this.actors.get(d.actorId),
      key: bytesToKey(d.key),
    }));
    for (const s of batch.states) {
      const actor = this.actors.get(s.actorId);
      if (actor) actor.record.data = s.data;
    }
    for (const p of puts) p.actor?.kv.set(p.key, p.value);
    for (const d of deletes) d.actor?.kv.delete(d.key);
    for (const a of batch.alarms) {
      const actor = this.actors.get(a.actorId);
      if (actor) actor.alarm = a.at;
    }
    for (const id of batch.destroyed) {
      const actor = this.actors.get(id);
      if (!actor) continue;
      this.actors.delete(id);
      const names = this.byKey.get(actor.record.name);
      names?.delete(actor.keyEnc);
      if (names?.size === 0) this.byKey.delete(actor.record.name);
    }
  }

  async kvGet(actorId: string, keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]> {
    this.assertOpen();
    const kv = this.actors.get(actorId)?.kv;
    return keys.map((k) => {
      const v = kv?.get(bytesToKey(k));
      return v === undefined ? null : copyBytes(v);
    });
  }

  async kvList(
    actorId: string,
    prefix: Uint8Array,
    options: KvListOptions = {},
  ): Promise<KvEntry[]> {
    this.assertOpen();
    const kv = this.actors.get(actorId)?.kv;
    if (!kv) return [];
    return kv
      .list(bytesToKey(prefix), options.limit, options.reverse)
      .map(([k, v]) => ({ key: keyToBytes(k), value: copyBytes(v) }));
  }

  async listAlarms(): Promise<{ actorId: string; at: number }[]> {
    this.assertOpen();
    const out: { actorId: string; at: number }[] = [];
    for (const [actorId, a] of this.actors)
      if (a.alarm !== null) out.push({ actorId, at: a.alarm });
    return out.sort((x, y) => x.at - y.at || (x.actorId < y.actorId ? -1 : 1));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.actors.clear();
    this.byKey.clear();
  }

  private findActorSync(id: string): ActorRecord | undefined {
    const actor = this.actors.get(id);
    return actor ? copyRecord(actor.record) : undefined;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("MemoryDriver is closed.");
  }
}

function copyRecord(r: ActorRecord): ActorRecord {
  return { id: r.id, name: r.name, key: [...r.key], createdAt: r.createdAt, data: r.data };
}
