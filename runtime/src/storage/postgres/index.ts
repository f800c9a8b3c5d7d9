/**
 * Postgres storage: for deployments that already run Postgres, or that want a database they can
 * query and back up with standard tools.
 *
 *   <schema>.actors (id text pk, name, key_enc, key jsonb, created_at, data, next_alarm)
 *   <schema>.kv     (actor_id, key bytea, value bytea, pk (actor_id, key))
 *
 * Every `commit` is ONE statement: data-modifying CTEs over `unnest`ed arrays, so a batch of
 * any size is one round trip and one implicit transaction (atomic, durable at COMMIT). Because
 * CTEs run against one snapshot, the batch is first normalized in JS so that no row is touched
 * twice (later writes win, deletes beat puts, destroy beats everything), which also makes the
 * result identical to the memory and file drivers for any input. Commits from one driver are
 * serialized: they apply in call order and can never deadlock against each other.
 *
 * KV prefixes are ranges on the bytea primary key (`key >= prefix AND key < successor`), which
 * the index serves directly and which compares as unsigned bytes. `key_enc` (JSON of the key,
 * see actor/keys.ts) is the identity of a key; the `key` jsonb column is a readable copy, NULL
 * for the rare key that jsonb cannot hold (a NUL character or an unpaired surrogate).
 */
import { createHash } from "node:crypto";
import pg from "pg";
import { decodeKey, encodeKey } from "../../actor/keys.js";
import { createLogger } from "../../log.js";
import type { ActorRecord, CommitBatch, KvEntry, KvListOptions, StorageDriver } from "../driver.js";
import { bytesToKey } from "../kv-index.js";

export interface PostgresDriverOptions {
  connectionString: string;
  /** Schema holding the tables; created if missing. Default "troupe". */
  schema?: string;
  /** Use this pool instead of creating one (it is not ended by `close`). */
  pool?: pg.Pool;
}

/** Postgres truncates longer identifiers, which would silently point at another schema. */
const MAX_IDENTIFIER_BYTES = 63;

export class PostgresDriver implements StorageDriver {
  readonly kind = "postgres";
  private commitChain: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | null = null;
  private readonly sql: ReturnType<typeof statements>;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly ownsPool: boolean,
    readonly schema: string,
  ) {
    this.sql = statements(schema);
  }

  static async open(opts: PostgresDriverOptions): Promise<PostgresDriver> {
    const schema = opts.schema ?? "troupe";
    if (!schema || Buffer.byteLength(schema) > MAX_IDENTIFIER_BYTES || schema.includes("\u0000")) {
      throw new Error(
        `Invalid Postgres schema name ${JSON.stringify(schema)}: use 1 to ${MAX_IDENTIFIER_BYTES} bytes, no NUL.`,
      );
    }
    const ownsPool = !opts.pool;
    const pool =
      opts.pool ??
      new pg.Pool({ connectionString: opts.connectionString, max: 10, application_name: "troupe" });
    if (ownsPool) {
      const log = createLogger({ component: "postgres-driver" });
      // An idle client losing its connection must not crash the process; the pool replaces it.
      pool.on("error", (err) =>
        log.warn("idle Postgres connection failed", { error: err.message }),
      );
    }
    try {
      await ensureSchema(pool, schema);
    } catch (err) {
      if (ownsPool) await pool.end().catch(() => {});
      throw new Error(
        `Could not open Postgres storage (schema "${schema}") at ${redact(opts.connectionString)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return new PostgresDriver(pool, ownsPool, schema);
  }

  async createActor(record: ActorRecord): Promise<boolean> {
    this.assertOpen();
    const keyEnc = encodeKey(record.key);
    const res = await this.pool.query(this.sql.createActor, [
      record.id,
      record.name,
      keyEnc,
      jsonbSafe(record.key) ? keyEnc : null,
      Math.round(record.createdAt),
      record.data,
    ]);
    return res.rowCount === 1;
  }

  async findActorByKey(name: string, key: readonly string[]): Promise<ActorRecord | undefined> {
    this.assertOpen();
    const res = await this.pool.query(this.sql.findByKey, [name, encodeKey(key)]);
    return res.rows[0] ? toRecord(res.rows[0]) : undefined;
  }

  async findActorById(id: string): Promise<ActorRecord | undefined> {
    this.assertOpen();
    const res = await this.pool.query(this.sql.findById, [id]);
    return res.rows[0] ? toRecord(res.rows[0]) : undefined;
  }

  commit(batch: CommitBatch): Promise<void> {
    if (this.closing) return Promise.reject(new Error("PostgresDriver is closed."));
    const run = this.commitChain.then(() => this.commitNow(batch));
    this.commitChain = run.catch(() => {});
    return run;
  }

  private async commitNow(batch: CommitBatch): Promise<void> {
    const b = normalizeBatch(batch);
    if (b.empty) return;
    await this.pool.query({
      name: this.sql.commitName,
      text: this.sql.commit,
      values: [
        b.destroyed,
        b.rowIds,
        b.rowHasData,
        b.rowData,
        b.rowHasAlarm,
        b.rowAlarm,
        b.delActor,
        b.delKey,
        b.putActor,
        b.putKey,
        b.putValue,
      ],
    });
  }

  async kvGet(actorId: string, keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]> {
    this.assertOpen();
    if (keys.length === 0) return [];
    const res = await this.pool.query(this.sql.kvGet, [actorId, keys.map(toBuffer)]);
    const found = new Map<string, Buffer>();
    for (const row of res.rows) found.set(bytesToKey(row.key), row.value);
    return keys.map((k) => {
      const v = found.get(bytesToKey(k));
      return v === undefined ? null : new Uint8Array(v);
    });
  }

  async kvList(
    actorId: string,
    prefix: Uint8Array,
    options: KvListOptions = {},
  ): Promise<KvEntry[]> {
    this.assertOpen();
    const limit = options.limit === undefined ? null : Math.max(0, Math.floor(options.limit));
    if (limit === 0) return [];
    const end = prefixSuccessor(prefix);
    const text = this.sql.kvList(end !== null, options.reverse === true);
    const values: unknown[] = [actorId, toBuffer(prefix), limit];
    if (end) values.push(toBuffer(end));
    const res = await this.pool.query(text, values);
    return res.rows.map((row) => ({
      key: new Uint8Array(row.key),
      value: new Uint8Array(row.value),
    }));
  }

  async listAlarms(): Promise<{ actorId: string; at: number }[]> {
    this.assertOpen();
    const res = await this.pool.query(this.sql.listAlarms);
    return res.rows.map((row) => ({ actorId: row.id, at: Number(row.next_alarm) }));
  }

  /** Waits for queued commits, then ends the pool if this driver created it. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.commitChain;
      if (this.ownsPool) await this.pool.end();
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new Error("PostgresDriver is closed.");
  }
}

/**
 * The smallest byte string greater than every string that starts with `prefix`: drop trailing
 * 0xff bytes and increment the last remaining one. Null when there is none (empty or all-0xff
 * prefix), meaning the range has no upper bound.
 */
export function prefixSuccessor(prefix: Uint8Array): Uint8Array | null {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return null;
  const out = prefix.slice(0, end);
  out[end - 1]++;
  return out;
}

// -------------------------------------------------------------------------------------------------

function statements(schema: string) {
  const s = pg.escapeIdentifier(schema);
  const actorCols = "id, name, key_enc, created_at, data";
  return {
    createActor: `INSERT INTO ${s}.actors (id, name, key_enc, key, created_at, data)
      VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT (name, key_enc) DO NOTHING`,
    findByKey: `SELECT ${actorCols} FROM ${s}.actors WHERE name = $1 AND key_enc = $2`,
    findById: `SELECT ${actorCols} FROM ${s}.actors WHERE id = $1`,
    kvGet: `SELECT key, value FROM ${s}.kv WHERE actor_id = $1 AND key = ANY($2::bytea[])`,
    kvList: (bounded: boolean, reverse: boolean) =>
      `SELECT key, value FROM ${s}.kv WHERE actor_id = $1 AND key >= $2${bounded ? " AND key < $4" : ""}
       ORDER BY key ${reverse ? "DESC" : "ASC"} LIMIT $3`,
    listAlarms: `SELECT id, next_alarm FROM ${s}.actors WHERE next_alarm IS NOT NULL
      ORDER BY next_alarm, id`,
    // Prepared once per connection; the name is per schema because the text is.
    commitName: `troupe_commit_${createHash("sha256").update(schema).digest("hex").slice(0, 16)}`,
    commit: `WITH
      gone AS (DELETE FROM ${s}.actors WHERE id = ANY($1::text[])),
      gone_kv AS (DELETE FROM ${s}.kv WHERE actor_id = ANY($1::text[])),
      upd AS (
        UPDATE ${s}.actors a
           SET data = CASE WHEN u.has_data THEN u.data ELSE a.data END,
               next_alarm = CASE WHEN u.has_alarm THEN u.at ELSE a.next_alarm END
          FROM unnest($2::text[], $3::bool[], $4::text[], $5::bool[], $6::bigint[])
               AS u(id, has_data, data, has_alarm, at)
         WHERE a.id = u.id),
      del AS (
        DELETE FROM ${s}.kv k
         USING unnest($7::text[], $8::bytea[]) AS d(actor_id, key)
         WHERE k.actor_id = d.actor_id AND k.key = d.key),
      put AS (
        INSERT INTO ${s}.kv (actor_id, key, value)
        SELECT p.actor_id, p.key, p.value
          FROM unnest($9::text[], $10::bytea[], $11::bytea[]) AS p(actor_id, key, value)
         WHERE EXISTS (SELECT 1 FROM ${s}.actors a WHERE a.id = p.actor_id)
        ON CONFLICT (actor_id, key) DO UPDATE SET value = EXCLUDED.value)
      SELECT 1`,
  };
}

async function ensureSchema(pool: pg.Pool, schema: string): Promise<void> {
  const s = pg.escapeIdentifier(schema);
  // Fast path, which also works for roles that may use but not create the tables.
  const exists = await pool.query(
    "SELECT to_regclass($1) IS NOT NULL AS actors, to_regclass($2) IS NOT NULL AS kv",
    [`${s}.actors`, `${s}.kv`],
  );
  if (exists.rows[0].actors && exists.rows[0].kv) return;

  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // Concurrent `IF NOT EXISTS` DDL can still collide in the catalogs: take turns.
    const h = createHash("sha256").update(`troupe-schema:${schema}`).digest();
    await client.query("SELECT pg_advisory_xact_lock($1, $2)", [
      h.readInt32BE(0),
      h.readInt32BE(4),
    ]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.actors (
      id text PRIMARY KEY,
      name text NOT NULL,
      key_enc text NOT NULL,
      key jsonb,
      created_at bigint NOT NULL,
      data text NOT NULL,
      next_alarm bigint,
      UNIQUE (name, key_enc)
    )`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.kv (
      actor_id text NOT NULL,
      key bytea NOT NULL,
      value bytea NOT NULL,
      PRIMARY KEY (actor_id, key)
    )`);
    await client.query(
      `CREATE INDEX IF NOT EXISTS actors_next_alarm ON ${s}.actors (next_alarm) WHERE next_alarm IS NOT NULL`,
    );
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

interface NormalizedBatch {
  empty: boolean;
  destroyed: string[];
  rowIds: string[];
  rowHasData: boolean[];
  rowData: (string | null)[];
  rowHasAlarm: boolean[];
  rowAlarm: (number | null)[];
  delActor: string[];
  delKey: Buffer[];
  putActor: string[];
  putKey: Buffer[];
  putValue: Buffer[];
}

/**
 * Collapses a batch so that every row is written at most once, with the outcome of applying the
 * parts in order: states, puts, deletes, alarms, destroy (as the other drivers do).
 */
function normalizeBatch(batch: CommitBatch): NormalizedBatch {
  const destroyed = new Set(batch.destroyed);
  const rows = new Map<string, { data?: string; alarm?: number | null }>();
  const row = (id: string) => {
    let r = rows.get(id);
    if (!r) rows.set(id, (r = {}));
    return r;
  };
  for (const s of batch.states) if (!destroyed.has(s.actorId)) row(s.actorId).data = s.data;
  for (const a of batch.alarms) {
    if (!destroyed.has(a.actorId)) row(a.actorId).alarm = a.at === null ? null : Math.ceil(a.at);
  }
  const kv = new Map<string, Map<string, { key: Uint8Array; value: Uint8Array | null }>>();
  const kvSet = (actorId: string, key: Uint8Array, value: Uint8Array | null) => {
    if (destroyed.has(actorId)) return;
    let m = kv.get(actorId);
    if (!m) kv.set(actorId, (m = new Map()));
    m.set(bytesToKey(key), { key, value });
  };
  for (const p of batch.kvPuts) kvSet(p.actorId, p.key, p.value);
  for (const d of batch.kvDeletes) kvSet(d.actorId, d.key, null);

  const out: NormalizedBatch = {
    empty: destroyed.size === 0 && rows.size === 0 && kv.size === 0,
    destroyed: [...destroyed],
    rowIds: [],
    rowHasData: [],
    rowData: [],
    rowHasAlarm: [],
    rowAlarm: [],
    delActor: [],
    delKey: [],
    putActor: [],
    putKey: [],
    putValue: [],
  };
  for (const [id, r] of rows) {
    out.rowIds.push(id);
    out.rowHasData.push(r.data !== undefined);
    out.rowData.push(r.data ?? null);
    out.rowHasAlarm.push(r.alarm !== undefined);
    out.rowAlarm.push(r.alarm ?? null);
  }
  for (const [actorId, m] of kv) {
    for (const { key, value } of m.values()) {
      if (value === null) {
        out.delActor.push(actorId);
        out.delKey.push(toBuffer(key));
      } else {
        out.putActor.push(actorId);
        out.putKey.push(toBuffer(key));
        out.putValue.push(toBuffer(value));
      }
    }
  }
  return out;
}

function toRecord(row: {
  id: string;
  name: string;
  key_enc: string;
  created_at: string;
  data: string;
}): ActorRecord {
  return {
    id: row.id,
    name: row.name,
    key: decodeKey(row.key_enc),
    createdAt: Number(row.created_at),
    data: row.data,
  };
}

/** A Buffer view (no copy): pg serializes Buffers as bytea. */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Whether jsonb can hold this key: it rejects \u0000 and unpaired surrogates. */
function jsonbSafe(key: readonly string[]): boolean {
  return key.every((part) => !part.includes("\u0000") && !/\p{Cs}/u.test(part));
}

function redact(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(unparseable connection string)";
  }
}
