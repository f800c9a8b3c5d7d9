/**
 * The embedded default driver: everything in one append-only log of checksummed frames
 * (format in `format.ts`) plus an in-memory index rebuilt from it at open.
 *
 * Why a log: the group committer hands over one batch per event-loop turn, and a batch must be
 * atomic and durable. Appending it as ONE frame and syncing ONCE gives both: a frame is either
 * wholly valid (checksum) or ignored, and N actors cost one fsync. Concurrent calls queue up and
 * are written together, each still its own frame, with one write and one fsync for the group.
 * The next group is written while the one before is still being synced (two writes in flight at
 * most; see "Writes" below), and groups are applied and answered strictly in log order. The
 * index is only updated after the sync, so readers never see data that is not durable.
 *
 * Why preallocated and O_DSYNC: a commit is one positioned write on a file opened with O_DSYNC,
 * so it is durable when the write returns (one syscall, one thread-pool hop, instead of a write
 * and an fdatasync). The file is extended with zeros ahead of the writes (`PREALLOCATE_BYTES`
 * at a time), so a commit does not change the file's size and the sync has no metadata to
 * journal, only the data itself (what Postgres does with its pre-zeroed WAL segments). Replay
 * treats a zero-filled remainder as the end of the log; a clean close cuts it off again. When
 * the zeros do not fit (a nearly full disk), commits append plainly, which still works.
 *
 * Memory: actor records and the KV key index are held in memory. State data and KV values up
 * to `inlineValueBytes` (4 KiB) are held too; larger ones are kept as (offset, length) into the
 * log and read with pread when asked for. On open the log is replayed up to the first torn or
 * corrupt frame. A torn tail (a crash mid-write: nothing valid after the bad frame) is cut off.
 * Damage with valid frames after it means acknowledged writes would be lost, so opening fails
 * with a LogCorruptedError unless `onCorruption: "truncate"` accepts the loss; the log is then
 * cut there and the bytes after the cut are first copied aside to `troupe.log.corrupt-<time>`,
 * so nothing is thrown away.
 *
 * Compaction: once the log exceeds `compactMinBytes` (8 MiB) and less than half of it is live,
 * the live set is written to a new file, synced, renamed over the log and the directory synced;
 * commits wait meanwhile. A crash at any point leaves either the old or the new log.
 *
 * A `LOCK` file (see `lock.ts`) keeps a second process out of the directory.
 */

import { constants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { decodeKey, encodeKey } from "../../actor/keys.js";
import { createLogger } from "../../log.js";
import type { ActorRecord, CommitBatch, KvEntry, KvListOptions, StorageDriver } from "../driver.js";
import { bytesToKey, keyToBytes, SortedKeyMap } from "../kv-index.js";
import {
  type CreateEntry,
  checkHeader,
  type DecodedFrame,
  decodeFrame,
  encodeFrame,
  type FrameContent,
  LOG_HEADER_BYTES,
  LogCorruptedError,
  logHeader,
  readFully,
  type Span,
  scanFrames,
} from "./format.js";
import { acquireDirectoryLock, type DirectoryLock } from "./lock.js";

export interface FileDriverOptions {
  /** Compact only once the log is larger than this. Default 8 MiB. */
  compactMinBytes?: number;
  /** Compact when more than this fraction of the log is garbage. Default 0.5. */
  compactGarbageRatio?: number;
  /** State data and KV values up to this size stay in memory; larger ones are read from disk. Default 4096. */
  inlineValueBytes?: number;
  /** Where replay and compaction problems are reported. Default: the troupe logger. */
  onWarning?: (message: string) => void;
  /**
   * What to do when the log is damaged in the middle (valid frames follow a bad one):
   * `"refuse"` (default) fails the open with a LogCorruptedError; `"truncate"` accepts losing
   * everything from the damage on, cuts the log there and saves the cut-off bytes aside.
   * A torn tail (nothing valid after the damage) is always cut off, whatever this says.
   */
  onCorruption?: OnCorruption;
}

export type OnCorruption = "refuse" | "truncate";

const LOG_FILE = "troupe.log";
/** The log grows by this many zeroed bytes at a time, ahead of the writes. */
const PREALLOCATE_BYTES = 4 * 1024 * 1024;
const ZEROS = Buffer.alloc(1024 * 1024);
/** Writes to the log are durable when they return (where the platform has O_DSYNC). */
const O_DSYNC: number = constants.O_DSYNC ?? 0;
const LOG_FLAGS = constants.O_RDWR | O_DSYNC;
/** Frames in a compacted log are cut at about this payload size. */
const COMPACT_FRAME_BYTES = 4 * 1024 * 1024;
/** Writes issued before the oldest of them is durable (see "Writes" below). */
const MAX_WRITES_IN_FLIGHT = 2;

/** A value kept on disk: `len` bytes at `pos` in the current log file. */
class Loc {
  constructor(
    readonly pos: number,
    readonly len: number,
  ) {}
}

/** A KV value: inline as a binary (latin1) string, or on disk. */
type StoredValue = string | Loc;
/** State data: inline as a string, or on disk as UTF-8. */
type StoredText = string | Loc;

interface FileActor {
  id: string;
  name: string;
  keyEnc: string;
  createdAt: number;
  data: StoredText;
  dataBytes: number;
  alarm: number | null;
  kv: SortedKeyMap<StoredValue> | null;
  /** Encoded size of the id, and of the record without its data, for live-size accounting. */
  idBytes: number;
  recordBytes: number;
  kvBytes: number;
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}
type Op =
  | ({ kind: "create"; record: ActorRecord } & Waiter<boolean>)
  | ({ kind: "commit"; batch: CommitBatch } & Waiter<undefined>)
  | ({ kind: "compact" } & Waiter<undefined>);
type WriteOp = Exclude<Op, { kind: "compact" }>;
/** Per op of a write: its outcome if decided without writing, or the index of its frame. */
type Outcome = { value: boolean } | { error: unknown } | { frame: number };
type WriteResult = { failed?: undefined } | { failed: "write" | "sync"; err: unknown };
const DURABLE: WriteResult = {};

/** A group's write, issued and not yet applied to the index. */
interface PendingWrite {
  group: WriteOp[];
  outcomes: Outcome[];
  frames: Buffer[];
  start: number;
  end: number;
  /** Create claims (name and key; id) this write holds until it is in the index or failed. */
  claimedKeys: string[];
  claimedIds: string[];
  settled: Promise<WriteResult>;
}

/** An open log file. Reads pin it so compaction can swap files without closing under them. */
class LogFile {
  private readers = 0;
  private retired = false;
  private closed: Promise<void> | null = null;

  constructor(readonly handle: FileHandle) {}

  /** Reads into a fresh ArrayBuffer of its own (never Node's shared pool). */
  async read(loc: Loc): Promise<Buffer> {
    this.readers++;
    try {
      const buf = Buffer.from(new ArrayBuffer(loc.len));
      await readFully(this.handle, buf, loc.pos);
      return buf;
    } finally {
      this.readers--;
      if (this.retired && this.readers === 0) void this.close();
    }
  }

  /** Closes the handle once no read is using it. */
  retire(): Promise<void> {
    this.retired = true;
    return this.readers === 0 ? this.close() : Promise.resolve();
  }

  private close(): Promise<void> {
    this.closed ??= this.handle.close().catch(() => {});
    return this.closed;
  }
}

export class FileDriver implements StorageDriver {
  readonly kind = "file";
  /** The committer hands over the next batch while this one syncs (see "Writes" below). */
  readonly maxCommitsInFlight = MAX_WRITES_IN_FLIGHT;

  private readonly actors = new Map<string, FileActor>();
  /** name -> encoded key -> actor id */
  private readonly byKey = new Map<string, Map<string, string>>();
  private log!: LogFile;
  /** End of the last durable frame applied to the index. */
  private size = 0;
  /** End of the last write issued: where the next one goes (`size` when none is in flight). */
  private writeEnd = 0;
  /** Writes issued and not yet applied, oldest first. */
  private inFlight: PendingWrite[] = [];
  private readonly claimedKeys = new Set<string>();
  private readonly claimedIds = new Set<string>();
  /** Failed writes so far, and what the writes after the last one were told. */
  private writeFailures = 0;
  private lastWriteError: Error | null = null;
  /** Wakes the writer waiting on its oldest write when an op is queued (see drain). */
  private wake: (() => void) | null = null;
  /** Length of the file: zeros from `size` up to here, written ahead of the frames. */
  private allocated = 0;
  /** Estimated size of a log holding only the live data. */
  private liveBytes = LOG_HEADER_BYTES;
  /** After a failed preallocation, append plainly until the log reaches this size. */
  private preallocateFrom = 0;
  /** After a failed compaction, do not retry before the log reaches this size. */
  private compactBackoffUntil = 0;
  private queue: Op[] = [];
  /** Whether the writer loop is running, and its completion. */
  private writing = false;
  private idle: Promise<void> = Promise.resolve();
  /** Set when the log's state on disk is unknown (failed fsync); every later write fails. */
  private failed: Error | null = null;
  private closing: Promise<void> | null = null;
  private closed = false;
  private replaying = false;
  private readonly compactMinBytes: number;
  private readonly compactGarbageRatio: number;
  private readonly inlineValueBytes: number;
  private readonly onCorruption: OnCorruption;
  private readonly warn: (message: string) => void;

  private constructor(
    readonly dir: string,
    private readonly lock: DirectoryLock,
    opts: FileDriverOptions,
  ) {
    this.compactMinBytes = opts.compactMinBytes ?? 8 * 1024 * 1024;
    this.compactGarbageRatio = opts.compactGarbageRatio ?? 0.5;
    this.inlineValueBytes = opts.inlineValueBytes ?? 4096;
    this.onCorruption = opts.onCorruption ?? "refuse";
    const logger = createLogger({ component: "file-driver", dir });
    this.warn = opts.onWarning ?? ((m) => logger.warn(m));
  }

  /** Opens (creating if needed) the store in `dir`, replaying its log. */
  static async open(dir: string, opts: FileDriverOptions = {}): Promise<FileDriver> {
    const { onCorruption = "refuse" } = opts;
    if (onCorruption !== "refuse" && onCorruption !== "truncate") {
      throw new TypeError(
        `FileDriver: onCorruption must be "refuse" or "truncate", not ${JSON.stringify(onCorruption)}.`,
      );
    }
    await mkdir(dir, { recursive: true });
    const lock = await acquireDirectoryLock(dir);
    const driver = new FileDriver(dir, lock, opts);
    try {
      await driver.load();
    } catch (err) {
      driver.closed = true;
      await driver.log?.retire();
      await lock.release();
      throw err;
    }
    return driver;
  }

  /** Bytes in the log file now (for tests and monitoring). */
  get logBytes(): number {
    return this.size;
  }

  private get logPath(): string {
    return join(this.dir, LOG_FILE);
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  async createActor(record: ActorRecord): Promise<boolean> {
    return this.enqueue<boolean>((resolve, reject) => ({
      kind: "create",
      record,
      resolve,
      reject,
    }));
  }

  async findActorByKey(name: string, key: readonly string[]): Promise<ActorRecord | undefined> {
    this.assertOpen();
    const id = this.byKey.get(name)?.get(encodeKey(key));
    return id === undefined ? undefined : this.findActorById(id);
  }

  async findActorById(id: string): Promise<ActorRecord | undefined> {
    this.assertOpen();
    const a = this.actors.get(id);
    if (!a) return undefined;
    const data = a.data instanceof Loc ? (await this.log.read(a.data)).toString("utf8") : a.data;
    return { id: a.id, name: a.name, key: decodeKey(a.keyEnc), createdAt: a.createdAt, data };
  }

  async commit(batch: CommitBatch): Promise<void> {
    return this.enqueue<undefined>((resolve, reject) => ({
      kind: "commit",
      batch,
      resolve,
      reject,
    }));
  }

  async kvGet(actorId: string, keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]> {
    this.assertOpen();
    const kv = this.actors.get(actorId)?.kv;
    const log = this.log; // captured with the index lookups, in the same tick
    const stored = keys.map((k) => kv?.get(bytesToKey(k)));
    return Promise.all(stored.map((v) => (v === undefined ? null : this.loadValue(log, v))));
  }

  async kvList(
    actorId: string,
    prefix: Uint8Array,
    options: KvListOptions = {},
  ): Promise<KvEntry[]> {
    this.assertOpen();
    const kv = this.actors.get(actorId)?.kv;
    if (!kv) return [];
    const log = this.log;
    const entries = kv.list(bytesToKey(prefix), options.limit, options.reverse);
    return Promise.all(
      entries.map(async ([k, v]) => ({ key: keyToBytes(k), value: await this.loadValue(log, v) })),
    );
  }

  async listAlarms(): Promise<{ actorId: string; at: number }[]> {
    this.assertOpen();
    const out: { actorId: string; at: number }[] = [];
    for (const a of this.actors.values())
      if (a.alarm !== null) out.push({ actorId: a.id, at: a.alarm });
    return out.sort((x, y) => x.at - y.at || (x.actorId < y.actorId ? -1 : 1));
  }

  /** Waits for queued writes, then releases the file and the directory lock. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.writing) await this.idle;
      this.closed = true;
      if (!this.failed && this.allocated > this.size) {
        // Leave a tidy file: the zeros are only there to make the next commits cheap.
        await this.log.handle
          .truncate(this.size)
          .then(() => this.log.handle.sync())
          .catch((err) => this.warn(`trimming ${this.logPath} failed: ${String(err)}`));
      }
      await this.log.retire();
      await this.lock.release();
    })();
    return this.closing;
  }

  /** Rewrites the log with only the live data now, whatever its size. Queued like a commit. */
  compact(): Promise<void> {
    return this.enqueue<undefined>((resolve, reject) => ({ kind: "compact", resolve, reject }));
  }

  private async loadValue(log: LogFile, v: StoredValue): Promise<Uint8Array> {
    if (v instanceof Loc) {
      const buf = await log.read(v);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    return keyToBytes(v);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`FileDriver (${this.dir}) is closed.`);
  }

  // ---------------------------------------------------------------------------------------------
  // Writes: a queue drained by one writer, which appends every queued op as its own frame with
  // one write (O_DSYNC: the write is the sync), then applies them to the index.
  //
  // Pipelined: the next group's write is issued while the one before is still being synced (at
  // most MAX_WRITES_IN_FLIGHT at once), because the disk completes two overlapping syncs in
  // about the time of one. Writes are still applied to the index, and their ops resolved, one
  // at a time in log order, each only once it and every write before it are durable. When one
  // fails, every write issued after it fails too (it was written on top of it) and the log is
  // cut back to where the failed one started, so none of them leaves a trace; commits handed
  // over before the failure was reported fail as well (the group committer built them on top of
  // the failed batch). Writes only overlap inside the preallocated zeros, so the file's size
  // never changes under a write in flight. Frames record where the durable log ended when their
  // write was issued, so recovery can tell a crash between overlapping writes (a later write on
  // disk, an earlier one not) from damage to acknowledged data (see format.ts).

  private enqueue<T>(
    make: (resolve: (v: T) => void, reject: (e: unknown) => void) => Op,
  ): Promise<T> {
    if (this.closing) {
      return Promise.reject(new Error(`FileDriver (${this.dir}) is closed.`));
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push(make(resolve, reject));
      this.wake?.();
      if (!this.writing) {
        this.writing = true;
        this.idle = this.drain();
      }
    });
  }

  /** The single writer. `writing` is cleared in the same turn that finds nothing left to do. */
  private async drain(): Promise<void> {
    try {
      for (;;) {
        if (this.queue.length === 0 || this.inFlight.length >= MAX_WRITES_IN_FLIGHT) {
          if (this.inFlight.length === 0) break;
          // With a slot free, ops handed over meanwhile are issued at once, next to the write
          // being synced; otherwise, and when the oldest write is done, that one is settled.
          if (this.inFlight.length < MAX_WRITES_IN_FLIGHT && (await this.oldestOrQueue())) {
            continue;
          }
          await this.settleOldest();
          continue;
        }
        const group = this.queue;
        this.queue = [];
        if (this.failed) {
          for (const op of group) op.reject(this.failed);
          continue;
        }
        const writes = group.filter((op): op is WriteOp => op.kind !== "compact");
        const compactions = group.filter((op) => op.kind === "compact");
        if (writes.length > 0) {
          try {
            await this.issue(writes);
          } catch (err) {
            // Only a bug gets here (I/O errors are handled inside). The index may no longer
            // match the log, so stop writing; settling an already settled op is a no-op.
            this.failed = new Error(`FileDriver: internal error, reopen the driver: ${err}`, {
              cause: err,
            });
            for (const op of writes) op.reject(this.failed);
          }
        }
        if (compactions.length > 0 || this.shouldCompact()) {
          // Compaction rewrites the log from the index: everything issued must be in it first.
          await this.settleAll();
          if (compactions.length > 0) {
            try {
              if (this.failed) throw this.failed;
              await this.rewriteLog();
              for (const op of compactions) op.resolve(undefined);
            } catch (err) {
              for (const op of compactions) op.reject(err);
            }
          } else if (!this.failed && this.shouldCompact()) {
            await this.compactOrWarn();
          }
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** Waits for the oldest write to be done or for an op to be queued: true for the latter. */
  private async oldestOrQueue(): Promise<boolean> {
    const queued = new Promise<boolean>((resolve) => {
      this.wake = () => resolve(true);
    });
    const done = this.inFlight[0]!.settled.then(() => false);
    try {
      return await Promise.race([done, queued]);
    } finally {
      this.wake = null;
    }
  }

  /** Encodes a group's ops as frames and issues their write (without waiting for it). */
  private async issue(group: WriteOp[]): Promise<void> {
    const frames: Buffer[] = [];
    const contents: FrameContent[] = [];
    const outcomes: Outcome[] = [];
    const claimedKeys: string[] = [];
    const claimedIds: string[] = [];
    // Where the durable log ends now: recovery's proof that this write came after it.
    const base = this.size;

    for (const op of group) {
      try {
        if (op.kind === "create") {
          const r = op.record;
          const keyEnc = encodeKey(r.key);
          const claim = JSON.stringify([r.name, keyEnc]);
          // Claims of writes in flight count: their creates are not in the index yet.
          if (this.byKey.get(r.name)?.has(keyEnc) || this.claimedKeys.has(claim)) {
            outcomes.push({ value: false });
            continue;
          }
          if (this.actors.has(r.id) || this.claimedIds.has(r.id)) {
            throw new Error(`FileDriver: actor id ${JSON.stringify(r.id)} is already in use.`);
          }
          const create: CreateEntry = {
            id: r.id,
            name: r.name,
            keyEnc,
            createdAt: r.createdAt,
            data: r.data,
          };
          const content = { ...emptyContent(), creates: [create] };
          frames.push(encodeFrame(content, base));
          contents.push(content);
          this.claimedKeys.add(claim);
          this.claimedIds.add(r.id);
          claimedKeys.push(claim);
          claimedIds.push(r.id);
        } else {
          const content = { ...op.batch, creates: [] };
          frames.push(encodeFrame(content, base));
          contents.push(content);
        }
        outcomes.push({ frame: frames.length - 1 });
      } catch (error) {
        outcomes.push({ error });
      }
    }

    const write: PendingWrite = {
      group,
      outcomes,
      frames,
      start: this.writeEnd,
      end: this.writeEnd,
      claimedKeys,
      claimedIds,
      // A group with nothing to write still settles in order: a create refused because a
      // write in flight claims its key must not answer before that write is in the index.
      settled: Promise.resolve(DURABLE),
    };
    if (frames.length > 0) {
      let buf = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
      if (this.writeEnd + buf.length > this.allocated) {
        // Growing the file (zeros ahead, or a plain append) happens with no write in flight.
        const failures = this.writeFailures;
        await this.settleAll();
        if (this.writeFailures !== failures || this.failed) {
          this.releaseClaims(write);
          const error = this.failed ?? this.lastWriteError;
          for (const op of group) op.reject(error);
          return;
        }
        if (this.size !== base) {
          // The log is durable further now: say so (recovery trusts a base to be true).
          contents.forEach((content, i) => {
            write.frames[i] = encodeFrame(content, this.size);
          });
          buf = frames.length === 1 ? write.frames[0]! : Buffer.concat(write.frames);
        }
        const start = this.size;
        if (start + buf.length > this.allocated && start >= this.preallocateFrom) {
          try {
            await this.preallocate(start + buf.length + PREALLOCATE_BYTES);
          } catch (err) {
            // The zeros ahead only make commits cheaper. When they do not fit (a nearly full
            // disk), append plainly: the write below extends the file, and O_DSYNC (or the
            // datasync) makes the new size durable with it. Retry once the log has grown a bit.
            this.preallocateFrom = start + PREALLOCATE_BYTES;
            this.warn(
              `${this.logPath}: could not zero ${PREALLOCATE_BYTES} bytes ahead of the log (${String(err)}); appending without them. Is the disk nearly full?`,
            );
          }
        }
      }
      write.start = this.writeEnd;
      write.end = write.start + buf.length;
      this.writeEnd = write.end;
      write.settled = this.writeDurably(buf, write.start);
      if (write.end > this.allocated) {
        // A plain append changes the file's size: let nothing overlap it.
        this.inFlight.push(write);
        await this.settleAll();
        return;
      }
    }
    this.inFlight.push(write);
  }

  /** Writes `buf` at `position` and makes it durable. Never rejects: says what failed. */
  private async writeDurably(buf: Buffer, position: number): Promise<WriteResult> {
    try {
      await writeFully(this.log.handle, buf, position);
    } catch (err) {
      return { failed: "write", err };
    }
    try {
      if (O_DSYNC === 0) await this.log.handle.datasync();
    } catch (err) {
      return { failed: "sync", err };
    }
    return DURABLE;
  }

  private async settleAll(): Promise<void> {
    while (this.inFlight.length > 0) await this.settleOldest();
  }

  /**
   * Waits for the oldest write in flight; once durable, applies its frames to the index and
   * answers its ops. If it failed, fails it and every write issued after it (see above).
   */
  private async settleOldest(): Promise<void> {
    const write = this.inFlight[0]!;
    const result = await write.settled;
    if (result.failed === undefined) {
      this.inFlight.shift();
      this.releaseClaims(write);
      let pos = write.start;
      for (const frame of write.frames) {
        this.applyFrame(frame, pos);
        pos += frame.length;
      }
      if (write.frames.length > 0) {
        this.size = pos;
        if (this.allocated < pos) this.allocated = pos;
      }
      write.group.forEach((op, i) => {
        const outcome = write.outcomes[i]!;
        if ("error" in outcome) op.reject(outcome.error);
        else if (op.kind === "create") op.resolve("value" in outcome ? outcome.value : true);
        else op.resolve(undefined);
      });
      return;
    }

    const later = this.inFlight.slice(1);
    this.inFlight = [];
    this.writeFailures++;
    // Let the later writes land before the log is cut back under them.
    await Promise.all(later.map((w) => w.settled));
    for (const w of [write, ...later]) this.releaseClaims(w);
    let error: Error;
    if (result.failed === "sync") {
      // After a failed fsync the kernel may have dropped the dirty pages: nothing about the
      // file can be trusted any more, so this driver stops writing.
      this.failed = new Error(
        `FileDriver: fsync of ${this.logPath} failed; its durability is unknown. Reopen the driver.`,
        { cause: result.err },
      );
      error = this.failed;
    } else {
      error = new Error(`FileDriver: writing to ${this.logPath} failed: ${String(result.err)}`, {
        cause: result.err,
      });
      // Cut off whatever part of these writes reached the file, so later frames stay reachable.
      await this.log.handle.truncate(write.start).then(
        () => {
          this.allocated = write.start;
        },
        (truncErr) => {
          this.failed = new Error(
            `FileDriver: ${this.logPath} could not be restored after a failed write; reopen the driver.`,
            { cause: truncErr },
          );
        },
      );
    }
    this.writeEnd = write.start;
    const after = new Error(
      `FileDriver: an earlier write to ${this.logPath} failed: ${error.message}`,
      {
        cause: error,
      },
    );
    this.lastWriteError = after;
    for (const op of write.group) op.reject(error);
    for (const w of later) for (const op of w.group) op.reject(after);
    // Commits handed over while the failed write was in flight may build on its batch.
    this.queue = this.queue.filter((op) => {
      if (op.kind !== "commit") return true;
      op.reject(after);
      return false;
    });
  }

  private releaseClaims(write: PendingWrite): void {
    for (const k of write.claimedKeys) this.claimedKeys.delete(k);
    for (const id of write.claimedIds) this.claimedIds.delete(id);
  }

  /** Extends the log with zeros up to `length` (rounded to whole MiB), durably. */
  private async preallocate(length: number): Promise<void> {
    const target = Math.ceil(length / ZEROS.length) * ZEROS.length;
    const from = this.allocated;
    try {
      for (let pos = from; pos < target; pos += ZEROS.length) {
        await writeFully(
          this.log.handle,
          ZEROS.subarray(0, Math.min(ZEROS.length, target - pos)),
          pos,
        );
      }
      if (O_DSYNC === 0) await this.log.handle.datasync();
    } catch (err) {
      // Zeros past the last frame are harmless; trimming them is only tidiness.
      await this.log.handle.truncate(from).catch(() => {});
      throw err;
    }
    this.allocated = target;
  }

  // ---------------------------------------------------------------------------------------------
  // The index. The same code applies frames at replay and after a live write.

  private applyFrame(frame: Buffer, framePos: number): void {
    this.applyDecoded(decodeFrame(frame), frame, framePos);
  }

  private applyDecoded(f: DecodedFrame, frame: Buffer, framePos: number): void {
    const inline = this.inlineValueBytes;
    const text = (s: Span): StoredText =>
      s.end - s.start > inline
        ? new Loc(framePos + s.start, s.end - s.start)
        : frame.toString("utf8", s.start, s.end);
    const value = (s: Span): StoredValue =>
      s.end - s.start > inline
        ? new Loc(framePos + s.start, s.end - s.start)
        : frame.toString("latin1", s.start, s.end);

    for (const c of f.creates) {
      if (this.actors.has(c.id) || this.byKey.get(c.name)?.has(c.keyEnc)) continue;
      const dataBytes = c.data.end - c.data.start;
      const idBytes = strBytes(c.id);
      const actor: FileActor = {
        id: c.id,
        name: c.name,
        keyEnc: c.keyEnc,
        createdAt: c.createdAt,
        data: text(c.data),
        dataBytes,
        alarm: null,
        kv: null,
        idBytes,
        // As written by compaction: id, name, keyEnc, createdAt, data length.
        recordBytes: idBytes + strBytes(c.name) + strBytes(c.keyEnc) + 8 + 4,
        kvBytes: 0,
      };
      this.actors.set(c.id, actor);
      let names = this.byKey.get(c.name);
      if (!names) {
        names = new Map();
        this.byKey.set(c.name, names);
      }
      names.set(c.keyEnc, c.id);
      this.liveBytes += actor.recordBytes + dataBytes;
    }
    for (const s of f.states) {
      const actor = this.actors.get(s.actorId);
      if (!actor) continue;
      const dataBytes = s.data.end - s.data.start;
      this.liveBytes += dataBytes - actor.dataBytes;
      actor.data = text(s.data);
      actor.dataBytes = dataBytes;
    }
    for (const p of f.puts) {
      const actor = this.actors.get(p.actorId);
      if (!actor) continue;
      if (!actor.kv) {
        actor.kv = new SortedKeyMap();
        if (this.replaying) actor.kv.deferOrdering();
      }
      const v = value(p.value);
      const prev = actor.kv.set(p.key, v);
      const delta = kvCost(actor, p.key, v) - (prev === undefined ? 0 : kvCost(actor, p.key, prev));
      actor.kvBytes += delta;
      this.liveBytes += delta;
    }
    for (const d of f.deletes) {
      const actor = this.actors.get(d.actorId);
      const prev = actor?.kv?.delete(d.key);
      if (!actor || prev === undefined) continue;
      const cost = kvCost(actor, d.key, prev);
      actor.kvBytes -= cost;
      this.liveBytes -= cost;
    }
    for (const a of f.alarms) {
      const actor = this.actors.get(a.actorId);
      if (!actor) continue;
      if (actor.alarm === null && a.at !== null) this.liveBytes += alarmCost(actor);
      if (actor.alarm !== null && a.at === null) this.liveBytes -= alarmCost(actor);
      actor.alarm = a.at;
    }
    for (const id of f.destroyed) {
      const actor = this.actors.get(id);
      if (!actor) continue;
      this.actors.delete(id);
      const names = this.byKey.get(actor.name);
      names?.delete(actor.keyEnc);
      if (names?.size === 0) this.byKey.delete(actor.name);
      this.liveBytes -=
        actor.recordBytes +
        actor.dataBytes +
        actor.kvBytes +
        (actor.alarm === null ? 0 : alarmCost(actor));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Open and replay

  private async load(): Promise<void> {
    const path = this.logPath;
    // Leftovers of an interrupted compaction or creation: the real log is untouched by both.
    await rm(`${path}.compact`, { force: true });
    await rm(`${path}.new`, { force: true });

    let handle: FileHandle;
    try {
      handle = await open(path, LOG_FLAGS);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      await writeFileDurably(`${path}.new`, logHeader());
      await rename(`${path}.new`, path);
      await syncDir(this.dir);
      handle = await open(path, LOG_FLAGS);
    }
    this.log = new LogFile(handle);

    const { size } = await handle.stat();
    const header = Buffer.alloc(LOG_HEADER_BYTES);
    const { bytesRead } = await handle.read(header, 0, LOG_HEADER_BYTES, 0);
    checkHeader(header.subarray(0, bytesRead), path);

    this.replaying = true;
    const scan = await scanFrames(handle, size, (frame, pos) => this.applyFrame(frame, pos));
    this.replaying = false;

    if (scan.problem) {
      const { frames, bytes, inFlight } = scan.validAfter;
      if (frames > 0 && inFlight) {
        // A crash while writes overlapped: a later one reached the disk, an earlier one not.
        // None of them was acknowledged (each waits for every write before it), so this is
        // a torn tail; its bytes are still kept aside, as a cut in the middle would be.
        await this.saveDamagedTail(
          handle,
          scan.end,
          size,
          `${scan.problem}, with ${frames} valid frame${frames === 1 ? "" : "s"} (${bytes} bytes) after it ` +
            "written while it was still in flight, so none was acknowledged: a torn tail of a crash",
        );
      } else if (frames > 0) {
        const corrupted = new LogCorruptedError(
          path,
          scan.end,
          scan.problem,
          frames,
          bytes,
          size - scan.end,
        );
        if (this.onCorruption !== "truncate") throw corrupted;
        await this.saveDamagedTail(
          handle,
          scan.end,
          size,
          `${scan.problem}, with ${frames} valid frame${frames === 1 ? "" : "s"} (${bytes} bytes) after it; ` +
            'onCorruption is "truncate", so every write from there on is given up',
        );
      } else if (!scan.tornTail) {
        await this.saveDamagedTail(handle, scan.end, size, scan.problem);
      } else {
        this.warn(`${path}: ${scan.problem}; dropping the torn tail (${size - scan.end} bytes).`);
      }
    }
    if (scan.end < size) {
      // A damaged tail, or the zeros preallocated before a crash: the log ends at scan.end.
      await handle.truncate(scan.end);
      await handle.sync();
    }
    this.size = scan.end;
    this.writeEnd = scan.end;
    this.allocated = scan.end;
    if (this.shouldCompact()) await this.compactOrWarn();
  }

  /** Copies the bytes after a damaged frame aside before the log is cut there. */
  private async saveDamagedTail(handle: FileHandle, from: number, size: number, problem: string) {
    const chunk = Buffer.alloc(Math.min(size - from, 1024 * 1024));
    const eachChunk = async (fn: (bytes: Buffer, pos: number) => Promise<boolean | undefined>) => {
      for (let pos = from; pos < size; pos += chunk.length) {
        const bytes = chunk.subarray(0, Math.min(chunk.length, size - pos));
        await readFully(handle, bytes, pos);
        if ((await fn(bytes, pos - from)) === false) return false;
      }
      return true;
    };
    if (await eachChunk(async (bytes) => bytes.every((byte) => byte === 0))) {
      // A zero-filled tail is what some file systems leave after a crash mid-append.
      this.warn(`${this.logPath}: ${problem}; dropping a zero-filled tail (${size - from} bytes).`);
      return;
    }
    const aside = `${this.logPath}.corrupt-${Date.now()}`;
    const out = await open(aside, "w");
    try {
      await eachChunk(async (bytes, at) => {
        await writeFully(out, bytes, at);
        return true;
      });
      await out.sync();
    } finally {
      await out.close();
    }
    this.warn(
      `${this.logPath}: ${problem}. The log is cut there; the ${size - from} bytes after that point were saved to ${aside}.`,
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Compaction

  private shouldCompact(): boolean {
    return (
      this.size > this.compactMinBytes &&
      this.size >= this.compactBackoffUntil &&
      this.size - this.liveBytes > this.size * this.compactGarbageRatio
    );
  }

  private async compactOrWarn(): Promise<void> {
    try {
      await this.rewriteLog();
    } catch (err) {
      this.compactBackoffUntil = this.size + this.compactMinBytes;
      this.warn(`${this.logPath}: compaction failed, keeping the current log: ${String(err)}`);
    }
  }

  /** Rewrites the log with only the live data. Only the writer (drain, or load) calls this. */
  private async rewriteLog(): Promise<void> {
    const tmpPath = `${this.logPath}.compact`;
    const out = await open(tmpPath, LOG_FLAGS | constants.O_CREAT | constants.O_TRUNC, 0o644);
    let pos = 0;
    const relocations: (() => void)[] = [];
    try {
      await writeFully(out, logHeader(), 0);
      pos = LOG_HEADER_BYTES;
      let content = emptyContent();
      let contentBytes = 0;
      let owners: FileActor[] = [];
      const flush = async () => {
        if (contentBytes === 0) return;
        const frame = encodeFrame(content);
        await writeFully(out, frame, pos);
        relocations.push(this.relocate(owners, decodeFrame(frame), pos));
        pos += frame.length;
        content = emptyContent();
        contentBytes = 0;
        owners = [];
      };
      for (const actor of this.actors.values()) {
        const data =
          actor.data instanceof Loc
            ? (await this.log.read(actor.data)).toString("utf8")
            : actor.data;
        content.creates.push({
          id: actor.id,
          name: actor.name,
          keyEnc: actor.keyEnc,
          createdAt: actor.createdAt,
          data,
        });
        owners.push(actor);
        contentBytes += actor.recordBytes + actor.dataBytes;
        if (actor.alarm !== null) content.alarms.push({ actorId: actor.id, at: actor.alarm });
        if (actor.kv) {
          for (const [k, v] of actor.kv.entries()) {
            const bytes = v instanceof Loc ? await this.log.read(v) : keyToBytes(v);
            content.kvPuts.push({ actorId: actor.id, key: keyToBytes(k), value: bytes });
            contentBytes += k.length + bytes.byteLength + 16;
            if (contentBytes >= COMPACT_FRAME_BYTES) {
              await flush();
              owners.push(actor);
            }
          }
        }
        if (contentBytes >= COMPACT_FRAME_BYTES) await flush();
      }
      await flush();
      await out.datasync();
      await rename(tmpPath, this.logPath);
    } catch (err) {
      await out.close().catch(() => {});
      await rm(tmpPath, { force: true });
      throw err;
    }
    // The new log is in place; from here on only the old handle must go.
    await syncDir(this.dir).catch((err) => this.warn(`syncing ${this.dir} failed: ${String(err)}`));
    const old = this.log;
    this.log = new LogFile(out);
    for (const relocate of relocations) relocate();
    this.size = pos;
    this.writeEnd = pos;
    this.allocated = pos;
    this.preallocateFrom = 0;
    this.liveBytes = pos;
    await old.retire();
  }

  /**
   * After a compacted frame is written, returns the function that points the index's on-disk
   * values at their copies in the new file (run once the new file has replaced the old one).
   */
  private relocate(owners: FileActor[], f: DecodedFrame, framePos: number): () => void {
    const inline = this.inlineValueBytes;
    const moves: (() => void)[] = [];
    const byId = new Map(owners.map((a) => [a.id, a]));
    for (const c of f.creates) {
      const actor = byId.get(c.id)!;
      if (actor.data instanceof Loc) {
        const loc = new Loc(framePos + c.data.start, c.data.end - c.data.start);
        moves.push(() => {
          actor.data = loc;
        });
      }
    }
    for (const p of f.puts) {
      if (p.value.end - p.value.start <= inline) continue;
      const kv = byId.get(p.actorId)!.kv!;
      const loc = new Loc(framePos + p.value.start, p.value.end - p.value.start);
      moves.push(() => kv.set(p.key, loc));
    }
    return () => {
      for (const move of moves) move();
    };
  }
}

// Live-size accounting: what each item takes in a compacted log (frame overhead is shared
// by thousands of items there, so it is left out).

function strBytes(s: string): number {
  return 4 + Buffer.byteLength(s, "utf8");
}

function kvCost(actor: FileActor, key: string, v: StoredValue): number {
  return actor.idBytes + 8 + key.length + (v instanceof Loc ? v.len : v.length);
}

function alarmCost(actor: FileActor): number {
  return actor.idBytes + 9;
}

function emptyContent(): FrameContent {
  return { creates: [], states: [], kvPuts: [], kvDeletes: [], alarms: [], destroyed: [] };
}

async function writeFully(handle: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

async function writeFileDurably(path: string, data: Buffer): Promise<void> {
  const h = await open(path, "w");
  try {
    await writeFully(h, data, 0);
    await h.sync();
  } finally {
    await h.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

export { LOG_FILE };
