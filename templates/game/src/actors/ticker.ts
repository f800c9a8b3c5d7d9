/**
 * One fixed-rate timer for every loop in the process: each live match joins it and is stepped in
 * turn at every beat, in the order they joined, instead of each keeping its own timer.
 *
 * Why: ten matches with ten timers wake the process ten times per tick at unrelated moments, and
 * each one's tick delays whichever timer falls due during it, so every loop's interval wanders by
 * the others' work. With one timer, the process wakes once per tick, runs every match back to
 * back, and each match's interval stays one period (its place in the round moves only by how long
 * the ones before it took, a fraction of a millisecond).
 *
 * The beat is drift-corrected: each one is scheduled against the ideal time (start + n × period),
 * not against when the previous one ran, so late beats do not add up. After a stall of more than
 * `MAX_BEHIND` periods the schedule starts again from now rather than rush through missed beats.
 * A member that throws is reported to `onError` and stays in (its own code decides what to drop).
 *
 * A beat runs as a microtask queued by the timer, not in the timer callback itself: Node runs
 * `process.nextTick` callbacks (where the runtime flushes the sockets written in a turn) only
 * once the microtask queue is empty, so promise callbacks that a beat sets off (e.g. replies to
 * actions it answers) write into the same flush as the beat's own frames.
 *
 * @example
 * const ticker = new Ticker(TICK_MS);
 * const leave = ticker.join(() => stepMatch());   // stepped from the next beat on
 * leave();                                        // the timer stops with the last member
 */

/** Beats a schedule may fall behind before it starts again from now. */
export const MAX_BEHIND = 5;

export interface TickerOptions {
  now?: () => number;
  onError?: (err: unknown) => void;
}

export class Ticker {
  private readonly members = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private due = 0;
  private late = 0;
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;

  constructor(
    readonly periodMs: number,
    opts: TickerOptions = {},
  ) {
    if (!(periodMs > 0)) throw new RangeError(`Ticker period must be above 0, got ${periodMs}`);
    this.now = opts.now ?? (() => performance.now());
    this.onError = opts.onError ?? ((err) => console.error("[ticker] a member failed:", err));
  }

  /**
   * During a beat: how long after its scheduled time it started (ms; the timer's lateness plus
   * the time the event loop took to reach it). Below 0 when the timer fired early (Node's timers
   * have a resolution of 1 ms). What delays the ticks before any of them has run.
   */
  get lateMs(): number {
    return this.late;
  }

  /** Members stepped at every beat. */
  get size(): number {
    return this.members.size;
  }

  /**
   * Steps `run` at every beat from the next one on. Returns the function that stops it (safe to
   * call twice, and from inside a beat: a member that leaves is not stepped again).
   */
  join(run: () => void): () => void {
    // A wrapper per join, so the same function joined twice is two members.
    const member = () => run();
    this.members.add(member);
    if (!this.timer) {
      this.due = this.now() + this.periodMs;
      this.timer = setTimeout(this.fire, this.periodMs);
    }
    return () => {
      this.members.delete(member);
      if (this.members.size === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
    };
  }

  private readonly beat = (): void => {
    this.timer = null;
    this.late = this.now() - this.due;
    // A Set iterates members added during the beat too: take this beat's members first.
    for (const member of [...this.members]) {
      if (!this.members.has(member)) continue; // left during this beat
      try {
        member();
      } catch (err) {
        this.onError(err);
      }
    }
    if (this.members.size === 0 || this.timer) return;
    this.due += this.periodMs;
    const now = this.now();
    if (this.due < now - MAX_BEHIND * this.periodMs) this.due = now + this.periodMs;
    this.timer = setTimeout(this.fire, Math.max(0, this.due - now));
  };

  private readonly fire = (): void => {
    queueMicrotask(this.beat);
  };
}
