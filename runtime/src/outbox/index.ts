/**
 * `troupe/outbox`: SQL writes queued in actor state, flushed in the background, for apps that
 * keep a database beside their actors.
 *
 * An action that changes something the database must know appends an entry to `state.outbox`
 * (`enqueue`) in the same state change as the change itself. The runtime stores state before it
 * replies, so an acknowledged change is durably queued even while the database is down, and the
 * reply never waits for the database. `OutboxFlusher` drains the queue: batches in one write
 * (the app's `write`, typically one transaction of idempotent upserts through `inTransaction`),
 * entries removed only after the write committed, exponential backoff while writes fail.
 *
 * One bad entry (a value the database refuses) must not stop the others. A failed batch is
 * retried in halves, down to the first entry that fails on its own; after `maxAttempts` failures
 * on its own that entry is *held* and the rest flows around it. Once another write has gone
 * through (so the database works), each held entry gets one last try: it is written, or it is
 * set aside in `state.outboxDeadLetters` (kept, bounded by `maxDeadLetters`, logged with the
 * database's reason). While nothing at all can be written (an outage) nothing is set aside.
 * `retryDeadLetters()` queues them again, e.g. after a fix.
 *
 * Entries must be idempotent (a crash between commit and removal replays them) and must not
 * depend on their order with other entries (a held entry is written after later ones): upserts
 * keyed by a stable id, with a version guard where an older snapshot must not win.
 *
 * @example
 * type Entry = { kind: "message"; id: string; text: string };
 * const state = { outbox: [], outboxSeq: 0 } as OutboxState<Entry>; // part of the actor's state
 * enqueue(state, { kind: "message", id, text });
 * const flusher = new OutboxFlusher<Entry>({
 *   get state() { return c.state; },
 *   write: (batch) => inTransaction(pool, (client) => upsert(client, batch)),
 *   keepAwake: (p) => c.waitUntil(p),
 *   log: c.log,
 * });
 * flusher.kick();
 */
import type pg from "pg";

/** Largest number of entries written in one batch. */
export const OUTBOX_BATCH = 200;
/** Delay before the first flush after a write: lets a burst of changes share one batch. */
export const OUTBOX_FLUSH_DELAY_MS = 20;
/** Backoff after a failed flush: doubles from the first value up to the second. */
export const OUTBOX_RETRY_MIN_MS = 100;
export const OUTBOX_RETRY_MAX_MS = 5000;
/** Failures of an entry written on its own before it is held (and, proven bad, set aside). */
export const OUTBOX_MAX_ATTEMPTS = 5;
/** Most entries kept in `outboxDeadLetters`; the oldest go first (logged). */
export const OUTBOX_MAX_DEAD_LETTERS = 100;

/** An entry in the queue: the app's entry with its sequence number. */
export type Queued<E> = E & { n: number };

export interface DeadLetter<E> {
  entry: Queued<E>;
  /** The database's reason, from the last failure. */
  error: string;
  attempts: number;
  /** When it was set aside (ms since epoch). */
  at: number;
}

/** The part of an actor's state that holds its outbox. */
export interface OutboxState<E> {
  outbox: Queued<E>[];
  outboxSeq: number;
  /** Entries the database kept refusing; created on the first one. */
  outboxDeadLetters?: DeadLetter<E>[];
}

export function enqueue<E extends object>(state: OutboxState<E>, entry: E): void {
  state.outboxSeq += 1;
  state.outbox.push({ ...entry, n: state.outboxSeq });
}

/**
 * The row with the NUL characters removed from its strings: Postgres text cannot hold them, and
 * one such row would fail its whole batch (and then be set aside). Refuse NUL in what people type
 * before it is queued; this catches what arrives otherwise (a display name from a token, state
 * written before such a check existed). A copy only when there is one to remove.
 */
export function storableRow<T extends object>(row: T): T {
  let copy: T | undefined;
  for (const [key, value] of Object.entries(row)) {
    if (typeof value === "string" && value.includes("\u0000")) {
      copy ??= { ...row };
      (copy as Record<string, unknown>)[key] = value.replaceAll("\u0000", "");
    }
  }
  return copy ?? row;
}

export interface OutboxLogger {
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface OutboxHost<E> {
  /** The state holding the queue (read on every use: the live state object). */
  readonly state: OutboxState<E>;
  /** Writes a batch atomically, or throws. Must be idempotent. */
  write(batch: readonly Queued<E>[]): Promise<void>;
  /** Keeps the actor awake while a flush runs (`c.waitUntil`). */
  keepAwake(p: Promise<unknown>): void;
  log: OutboxLogger;
}

export interface OutboxOptions {
  batchSize?: number;
  flushDelayMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  maxAttempts?: number;
  maxDeadLetters?: number;
}

interface Held {
  attempts: number;
  error: string;
  /** Held since this many successful writes: a later success proves the database works. */
  since: number;
}

/** Drains an actor's outbox. One per actor instance, kept in vars (it holds timers). */
export class OutboxFlusher<E extends object> {
  private readonly opts: Required<OutboxOptions>;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Failed flush rounds in a row (for the backoff). */
  private failures = 0;
  /** Entries per write now: halves on a failure, doubles back after a success. */
  private size: number;
  /** Failures of entries written on their own, by `n`. */
  private readonly attempts = new Map<number, { count: number; error: string }>();
  private readonly held = new Map<number, Held>();
  /** Successful writes so far. */
  private successes = 0;
  /** The database's reason for the last failed write. */
  private lastError = "";

  constructor(
    private readonly host: OutboxHost<E>,
    opts: OutboxOptions = {},
  ) {
    this.opts = {
      batchSize: opts.batchSize ?? OUTBOX_BATCH,
      flushDelayMs: opts.flushDelayMs ?? OUTBOX_FLUSH_DELAY_MS,
      retryMinMs: opts.retryMinMs ?? OUTBOX_RETRY_MIN_MS,
      retryMaxMs: opts.retryMaxMs ?? OUTBOX_RETRY_MAX_MS,
      maxAttempts: opts.maxAttempts ?? OUTBOX_MAX_ATTEMPTS,
      maxDeadLetters: opts.maxDeadLetters ?? OUTBOX_MAX_DEAD_LETTERS,
    };
    this.size = this.opts.batchSize;
  }

  /** Asks for a flush soon (no-op if one is already planned or running). */
  kick(delayMs = this.opts.flushDelayMs): void {
    if (this.stopped || this.timer || this.running) return;
    if (this.host.state.outbox.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.drain().finally(() => {
        this.running = undefined;
      });
      this.host.keepAwake(this.running);
    }, delayMs);
  }

  /** Flushes what it can now (used when the actor goes to sleep); never throws. */
  async flushNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    // A drain that failed meanwhile planned a retry: this flush replaces it, and runs as
    // `running` so that no timer or kick starts a second drain of the same entries beside it.
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.host.state.outbox.length === 0) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
    });
    await this.running.catch(() => {});
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Queues the entries set aside again (after the cause was fixed); returns how many. */
  retryDeadLetters(): number {
    const letters = this.host.state.outboxDeadLetters;
    if (!letters?.length) return 0;
    const entries = letters.map((d) => plain(d.entry));
    letters.splice(0, letters.length);
    for (const entry of entries) this.host.state.outbox.push(entry);
    this.kick(0);
    return entries.length;
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.host.state.outbox.length > 0) {
      const outbox = this.host.state.outbox;
      const due = this.dueHeldEntry();
      if (due) {
        await this.lastTry(due);
        continue;
      }
      const batch = this.nextBatch();
      if (batch.length === 0) {
        // Only held entries are left, so nothing can show that the database works: keep trying
        // them, without setting any aside.
        const first = outbox[0]!;
        if (await this.tryWrite([plain(first)])) continue;
        return this.retryLater(`${outbox.length} held`);
      }
      if (await this.tryWrite(batch)) continue;
      if (batch.length > 1) {
        // Look for the first entry that fails on its own: retry in halves, at once.
        this.size = Math.ceil(batch.length / 2);
        continue;
      }
      const entry = batch[0]!;
      const failed = this.attempts.get(entry.n)!;
      if (failed.count >= this.opts.maxAttempts) {
        this.attempts.delete(entry.n);
        this.held.set(entry.n, {
          attempts: failed.count,
          error: failed.error,
          since: this.successes,
        });
        this.host.log.warn(
          `[outbox] entry ${entry.n} failed ${failed.count} times on its own; writing the others first: ${failed.error}`,
        );
        continue;
      }
      return this.retryLater(`entry ${entry.n} failed ${failed.count}x on its own`);
    }
    this.failures = 0;
  }

  /** A held entry after which another write went through: it gets its last try. */
  private dueHeldEntry(): Queued<E> | undefined {
    for (const [n, held] of this.held) {
      if (held.since >= this.successes) continue;
      const entry = this.host.state.outbox.find((e) => e.n === n);
      if (entry) return entry;
      this.held.delete(n);
    }
    return undefined;
  }

  /** The next entries to write: the first `size` ones that are not held, as plain copies. */
  private nextBatch(): Queued<E>[] {
    const batch: Queued<E>[] = [];
    for (const e of this.host.state.outbox) {
      if (batch.length >= this.size) break;
      if (!this.held.has(e.n)) batch.push(e);
    }
    return plain(batch);
  }

  /** Writes `batch`; on success removes it from the queue. Failures of single entries count. */
  private async tryWrite(batch: Queued<E>[]): Promise<boolean> {
    try {
      await this.host.write(batch);
    } catch (err) {
      const error = messageOf(err);
      if (batch.length === 1) {
        const n = batch[0]!.n;
        const previous = this.attempts.get(n);
        this.attempts.set(n, { count: (previous?.count ?? 0) + 1, error });
      }
      this.lastError = error;
      return false;
    }
    if (this.failures > 0) {
      this.host.log.warn(`[outbox] SQL writes resumed after ${this.failures} failed rounds`);
    }
    this.failures = 0;
    this.successes += 1;
    this.size = Math.min(this.opts.batchSize, this.size * 2);
    for (const e of batch) {
      this.attempts.delete(e.n);
      this.held.delete(e.n);
    }
    this.remove(batch);
    return true;
  }

  /** A held entry, after the database took other writes: written now, or set aside. */
  private async lastTry(entry: Queued<E>): Promise<void> {
    if (await this.tryWrite([plain(entry)])) return;
    const held = this.held.get(entry.n)!;
    this.held.delete(entry.n);
    this.attempts.delete(entry.n);
    this.setAside(plain(entry), this.lastError || held.error, held.attempts + 1);
  }

  private setAside(entry: Queued<E>, error: string, attempts: number): void {
    const state = this.host.state;
    this.remove([entry]);
    const letters = (state.outboxDeadLetters ??= []);
    letters.push({ entry, error, attempts, at: Date.now() });
    this.host.log.error(
      `[outbox] entry ${entry.n} set aside after ${attempts} failed writes while others went through: ${error}`,
      { entry: summary(entry), deadLetters: letters.length },
    );
    const excess = letters.length - this.opts.maxDeadLetters;
    if (excess > 0) {
      const dropped = letters.splice(0, excess);
      this.host.log.error(
        `[outbox] ${excess} oldest set-aside entries dropped (more than ${this.opts.maxDeadLetters} kept)`,
        { dropped: dropped.map((d) => summary(d.entry)) },
      );
    }
  }

  /** Removes the written entries (in queue order; held ones may sit between them). */
  private remove(batch: readonly Queued<E>[]): void {
    const written = new Set(batch.map((e) => e.n));
    const outbox = this.host.state.outbox;
    // Runs of written entries, removed from the back so that indexes stay valid.
    const runs: [start: number, count: number][] = [];
    let left = written.size;
    for (let i = 0; i < outbox.length && left > 0; i++) {
      if (!written.has(outbox[i]!.n)) continue;
      left -= 1;
      const last = runs.at(-1);
      if (last && last[0] + last[1] === i) last[1] += 1;
      else runs.push([i, 1]);
    }
    for (let r = runs.length - 1; r >= 0; r--) outbox.splice(runs[r]![0], runs[r]![1]);
  }

  private retryLater(why: string): void {
    this.failures += 1;
    const wait = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** (this.failures - 1));
    if (this.failures === 1 || this.failures % 10 === 0) {
      this.host.log.warn(
        `[outbox] SQL write failed (${this.failures}x, ${this.host.state.outbox.length} pending, ${why}), retrying in ${wait} ms: ${this.lastError}`,
      );
    }
    this.running = undefined;
    this.kick(wait);
  }
}

/**
 * Runs `fn` in one transaction on a client of `pool`.
 *
 * Unlike drizzle's `db.transaction` (which sends BEGIN outside its try block, so a connection
 * lost at that moment kept the client checked out for good, and ten blips emptied the pool),
 * every failure here rolls back as far as it can, and a client whose ROLLBACK fails too is
 * released with that error, so the pool drops it instead of handing a broken connection out again.
 *
 * A failed BEGIN is retried on another client: the pool hands out an idle client whose connection
 * died (a database restart, a blip) until it has noticed the close, and nothing has run yet then.
 * Each broken client is dropped, so this ends with a live one, or with the pool's own error when
 * no new connection can be made.
 *
 * @example
 * await inTransaction(pool, (client) => client.query("INSERT INTO t VALUES ($1)", [1]));
 * // with drizzle: inTransaction(db.$client, (client) => fn(drizzle(client, { schema })))
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  // At most every client the pool holds now can be a stale one.
  for (let stale = pool.totalCount; ; stale--) {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
    } catch (err) {
      client.release(err instanceof Error ? err : new Error(String(err)));
      if (stale > 0) continue;
      throw err;
    }
    let broken: Error | undefined;
    try {
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      // A refused statement leaves a healthy connection once rolled back (the outbox retries a
      // refused entry several times: reconnecting each time cost ~60 ms). If even ROLLBACK fails,
      // the connection is broken.
      await client.query("ROLLBACK").catch((rollbackErr: unknown) => {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }
}

/** A plain copy: entries are live state (tracked proxies), and a write must not see later changes. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * The database's own reason: the innermost cause (a query builder wraps the driver's error in
 * one that repeats the statement and its parameters, which a log line should not carry), with
 * the SQLSTATE when there is one.
 */
function messageOf(err: unknown): string {
  let root = err;
  for (let depth = 0; depth < 5 && root instanceof Error && root.cause instanceof Error; depth++) {
    root = root.cause;
  }
  if (!(root instanceof Error)) return String(root);
  const code = (root as { code?: unknown }).code;
  return typeof code === "string" ? `${root.message} (${code})` : root.message;
}

/** What identifies an entry in a log line, without its (possibly large) payload. */
function summary(entry: { n: number } & object): Record<string, unknown> {
  const kind = (entry as { kind?: unknown }).kind;
  return kind === undefined ? { n: entry.n } : { n: entry.n, kind };
}
