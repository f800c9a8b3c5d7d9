/**
 * Token work of every conversation in the process, spread over event-loop turns so that the loop
 * reads its sockets between slices of it: a Stop (or any action) waits for at most one slice, not
 * for every stream's backlog.
 *
 * Why: with many answers streaming at once, a busy server runs behind the model, and every
 * stream then has a part ready in every loop turn. Node reads sockets once per turn (its poll
 * phase), so the turn lasts as long as all those parts take through the AI SDK, the actor and
 * the sockets (200 streams at about 0.3 ms each: 60 ms, and more on a loaded machine), and a
 * cancel frame waits that long before it is even read.
 *
 * How: each part of the model's stream asks `take()` before it goes on into the SDK's pipeline
 * (`gateStream` below, wrapped around the model). While the work since the loop last polled is
 * under `budgetMs`, it goes on at once (a lone stream, the first token: no wait). Past it, the
 * part waits in a queue, and the queue is released in the next check phase (`setImmediate`,
 * right after a poll), in order, as many as fit in one budget by the measured cost of a part;
 * the others wait for the turn after. Each stream is served in its order of arrival, so none
 * starves, and the total work is the same: it is only cut into slices with a socket read
 * between them. A released part runs through the SDK's transforms, the actor and the socket
 * writes in the same slice, so the budget covers all of it.
 *
 * @example
 * const turns = new TurnBudget(2);
 * const gated = gateStream(modelStream, turns, abortSignal);
 */
export class TurnBudget {
  /** When the current slice (work since the loop last polled) started; none running if unset. */
  private sliceStart: number | undefined;
  /** Reads let through in the current slice. */
  private taken = 0;
  /** When the last read of the slice asked (its work is done by then, the part before it too). */
  private lastTakeAt = 0;
  private readonly queue: (() => void)[] = [];
  private armed = false;
  /** Estimated milliseconds of work per read (moving average over slices). */
  private perRead: number;

  constructor(
    /** Work between two socket reads of the loop, ms; 0 or less turns the budget off. */
    readonly budgetMs: number,
    private readonly now: () => number = () => performance.now(),
    private readonly defer: (fn: () => void) => void = (fn) => setImmediate(fn),
  ) {
    this.perRead = Math.max(budgetMs / 20, 0.05);
  }

  /** Reads waiting for a later turn. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Undefined: go on now. A promise: the budget of this turn is spent, go on when it resolves
   * (after the loop has read its sockets).
   */
  take(): Promise<void> | undefined {
    if (this.budgetMs <= 0) return undefined;
    const now = this.now();
    if (this.sliceStart === undefined) {
      this.sliceStart = now;
      this.taken = 0;
      this.arm();
    }
    this.lastTakeAt = now;
    if (this.queue.length === 0 && now - this.sliceStart < this.budgetMs) {
      this.taken++;
      return undefined;
    }
    return new Promise<void>((resolve) => {
      this.queue.push(resolve);
      this.arm();
    });
  }

  private arm(): void {
    if (this.armed) return;
    this.armed = true;
    this.defer(this.release);
  }

  /** Right after a poll: a new slice, with as many waiting reads as fit in one budget. */
  private readonly release = (): void => {
    this.armed = false;
    if (this.sliceStart !== undefined && this.taken > 0) {
      const cost = (this.lastTakeAt - this.sliceStart) / this.taken;
      if (cost > 0) this.perRead = 0.7 * this.perRead + 0.3 * cost;
    }
    if (this.queue.length === 0) {
      this.sliceStart = undefined;
      return;
    }
    this.sliceStart = this.now();
    this.lastTakeAt = this.sliceStart;
    const n = Math.max(1, Math.floor(this.budgetMs / this.perRead));
    const woken = this.queue.splice(0, n);
    this.taken = woken.length;
    // The woken reads run after this callback (promise jobs), in this same slice; the next
    // release, after the next poll, ends it.
    this.arm();
    for (const resolve of woken) resolve();
  };
}

/**
 * `stream` with every part let through by `turns`: a part enters what reads it (the AI SDK's
 * pipeline, then the actor) only in a slice of the loop turn. The gate sits at the model's
 * stream, not at the reader, because the SDK's pipeline reads ahead: gated at the end only, the
 * pipeline's work for the next part (most of a token's cost) would run wherever the model's
 * part arrived (a timer, a socket read), outside every slice. Once `signal` aborts, parts go
 * through at once (what is left drains unread).
 */
export function gateStream<T>(
  stream: ReadableStream<T>,
  turns: TurnBudget,
  signal?: AbortSignal,
): ReadableStream<T> {
  if (turns.budgetMs <= 0) return stream;
  const reader = stream.getReader();
  return new ReadableStream<T>(
    {
      async pull(controller) {
        const next = await reader.read();
        if (next.done) {
          controller.close();
          return;
        }
        const wait = signal?.aborted ? undefined : turns.take();
        if (wait) await wait;
        controller.enqueue(next.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    // Read one part only when asked: nothing waits ahead of the reader.
    { highWaterMark: 0 },
  );
}
