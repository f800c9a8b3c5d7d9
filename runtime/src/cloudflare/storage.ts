/**
 * A storage driver on a Durable Object's own SQLite database (`ctx.storage.sql`). Each Durable
 * Object hosts one actor key, so its database normally holds one actor (and, after a destroy and
 * re-create, the new one under a new id). The same contract as every driver (`storage/driver.ts`);
 * SQL calls are synchronous inside a Durable Object and a commit is one `transactionSync`.
 * Durability comes from the platform: a response is not released before the writes it follows
 * are confirmed (output gates).
 */

import { decodeKey, encodeKey } from "../actor/keys.js";
import type {
  ActorRecord,
  CommitBatch,
  KvEntry,
  KvListOptions,
  StorageDriver,
} from "../storage/driver.js";
import type { DurableObjectStorage, SqlValue } from "./workers.js";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS troupe_actors (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     key TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     data TEXT NOT NULL,
     alarm_at INTEGER,
     UNIQUE (name, key)
   )`,
  `CREATE TABLE IF NOT EXISTS troupe_kv (
     actor_id TEXT NOT NULL,
     key BLOB NOT NULL,
     value BLOB NOT NULL,
     PRIMARY KEY (actor_id, key)
   )`,
  // Open connections, so that they outlive the object's eviction (WebSocket Hibernation).
  `CREATE TABLE IF NOT EXISTS troupe_conns (
     id TEXT PRIMARY KEY,
     actor_id TEXT NOT NULL,
     data TEXT NOT NULL
   )`,
];

/** A connection kept across hibernation: the actor and what the client connected with. */
export interface SavedConnection {
  id: string;
  actorId: string;
  /** JSON: { name, params, state, subscriptions } */
  data: string;
}

interface ActorRow extends Record<string, SqlValue> {
  id: string;
  name: string;
  key: string;
  created_at: number;
  data: string;
}

export class DurableObjectDriver implements StorageDriver {
  readonly kind = "durable-object";
  private closed = false;

  constructor(private readonly storage: DurableObjectStorage) {
    for (const statement of SCHEMA) storage.sql.exec(statement);
  }

  async createActor(record: ActorRecord): Promise<boolean> {
    this.assertOpen();
    const key = encodeKey(record.key);
    return this.storage.transactionSync(() => {
      const taken = this.storage.sql
        .exec("SELECT id FROM troupe_actors WHERE name = ? AND key = ?", record.name, key)
        .toArray();
      if (taken.length > 0) return false;
      const sameId = this.storage.sql
        .exec("SELECT id FROM troupe_actors WHERE id = ?", record.id)
        .toArray();
      if (sameId.length > 0) throw new Error(`Actor id ${record.id} is already in use.`);
      this.storage.sql.exec(
        "INSERT INTO troupe_actors (id, name, key, created_at, data) VALUES (?, ?, ?, ?, ?)",
        record.id,
        record.name,
        key,
        record.createdAt,
        record.data,
      );
      return true;
    });
  }

  async findActorByKey(name: string, key: readonly string[]): Promise<ActorRecord | undefined> {
    this.assertOpen();
    const rows = this.storage.sql
      .exec<ActorRow>(
        "SELECT id, name, key, created_at, data FROM troupe_actors WHERE name = ? AND key = ?",
        name,
        encodeKey(key),
      )
      .toArray();
    return rows[0] && toRecord(rows[0]);
  }

  async findActorById(id: string): Promise<ActorRecord | undefined> {
    this.assertOpen();
    const rows = this.storage.sql
      .exec<ActorRow>("SELECT id, name, key, created_at, data FROM troupe_actors WHERE id = ?", id)
      .toArray();
    return rows[0] && toRecord(rows[0]);
  }

  async commit(batch: CommitBatch): Promise<void> {
    this.assertOpen();
    const sql = this.storage.sql;
    this.storage.transactionSync(() => {
      const known = (id: string) =>
        sql.exec("SELECT 1 AS one FROM troupe_actors WHERE id = ?", id).toArray().length > 0;
      for (const { actorId, data } of batch.states) {
        sql.exec("UPDATE troupe_actors SET data = ? WHERE id = ?", data, actorId);
      }
      for (const { actorId, at } of batch.alarms) {
        sql.exec("UPDATE troupe_actors SET alarm_at = ? WHERE id = ?", at, actorId);
      }
      for (const { actorId, key, value } of batch.kvPuts) {
        if (!known(actorId)) continue;
        sql.exec(
          "INSERT OR REPLACE INTO troupe_kv (actor_id, key, value) VALUES (?, ?, ?)",
          actorId,
          copy(key),
          copy(value),
        );
      }
      for (const { actorId, key } of batch.kvDeletes) {
        sql.exec("DELETE FROM troupe_kv WHERE actor_id = ? AND key = ?", actorId, copy(key));
      }
      for (const actorId of batch.destroyed) {
        sql.exec("DELETE FROM troupe_kv WHERE actor_id = ?", actorId);
        sql.exec("DELETE FROM troupe_conns WHERE actor_id = ?", actorId);
        sql.exec("DELETE FROM troupe_actors WHERE id = ?", actorId);
      }
    });
  }

  async kvGet(actorId: string, keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]> {
    this.assertOpen();
    return keys.map((key) => {
      const rows = this.storage.sql
        .exec<{ value: ArrayBuffer }>(
          "SELECT value FROM troupe_kv WHERE actor_id = ? AND key = ?",
          actorId,
          copy(key),
        )
        .toArray();
      return rows[0] ? new Uint8Array(rows[0].value.slice(0)) : null;
    });
  }

  async kvList(
    actorId: string,
    prefix: Uint8Array,
    options: KvListOptions = {},
  ): Promise<KvEntry[]> {
    this.assertOpen();
    // SQLite compares BLOBs with memcmp: unsigned, lexicographic, as the contract wants.
    const end = prefixEnd(prefix);
    const bindings: SqlValue[] = [actorId, copy(prefix)];
    let query = "SELECT key, value FROM troupe_kv WHERE actor_id = ? AND key >= ?";
    if (end) {
      query += " AND key < ?";
      bindings.push(end);
    }
    query += ` ORDER BY key ${options.reverse ? "DESC" : "ASC"}`;
    if (options.limit !== undefined) {
      query += " LIMIT ?";
      bindings.push(Math.max(0, Math.floor(options.limit)));
    }
    return this.storage.sql
      .exec<{ key: ArrayBuffer; value: ArrayBuffer }>(query, ...bindings)
      .toArray()
      .map((row) => ({
        key: new Uint8Array(row.key.slice(0)),
        value: new Uint8Array(row.value.slice(0)),
      }));
  }

  async listAlarms(): Promise<{ actorId: string; at: number }[]> {
    this.assertOpen();
    return this.storage.sql
      .exec<{ id: string; alarm_at: number }>(
        "SELECT id, alarm_at FROM troupe_actors WHERE alarm_at IS NOT NULL ORDER BY alarm_at",
      )
      .toArray()
      .map((row) => ({ actorId: row.id, at: row.alarm_at }));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // ---- connections (Durable Object only, not part of the driver contract) -----------------

  saveConnection(conn: SavedConnection): void {
    this.storage.sql.exec(
      "INSERT OR REPLACE INTO troupe_conns (id, actor_id, data) VALUES (?, ?, ?)",
      conn.id,
      conn.actorId,
      conn.data,
    );
  }

  deleteConnection(id: string): void {
    this.storage.sql.exec("DELETE FROM troupe_conns WHERE id = ?", id);
  }

  connection(id: string): SavedConnection | undefined {
    const rows = this.storage.sql
      .exec<{ id: string; actor_id: string; data: string }>(
        "SELECT id, actor_id, data FROM troupe_conns WHERE id = ?",
        id,
      )
      .toArray();
    const row = rows[0];
    return row && { id: row.id, actorId: row.actor_id, data: row.data };
  }

  /** Forgets every saved connection but those listed (the sockets still open). */
  keepConnections(ids: ReadonlySet<string>): void {
    const rows = this.storage.sql.exec<{ id: string }>("SELECT id FROM troupe_conns").toArray();
    for (const { id } of rows) if (!ids.has(id)) this.deleteConnection(id);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("The Durable Object storage driver is closed.");
  }
}

function toRecord(row: ActorRow): ActorRecord {
  return {
    id: row.id,
    name: row.name,
    key: decodeKey(row.key),
    createdAt: row.created_at,
    data: row.data,
  };
}

/** A copy the caller cannot change under us (the contract: drivers copy in and out). */
function copy(bytes: Uint8Array): Uint8Array {
  return bytes.slice();
}

/** The smallest byte string greater than every string starting with `prefix`; null if none. */
function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.slice(0, i + 1);
    }
  }
  return null;
}
