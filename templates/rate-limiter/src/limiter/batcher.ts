/**
 * Calls to one actor, batched: at most one call in flight; requests that arrive meanwhile (or in
 * the same tick) go together in the next call. Many concurrent callers thus share the cost of an
 * action call, at the price of at most one call's latency. A target that stops answering holds
 * at most `maxWaiting` requests; beyond that, requests fail at once.
 *
 * @example
 * const checks = new Batcher((reqs: Req[]) => handle.checkMany(reqs), { maxBatch: 512 });
 * const res = await checks.push(req);
 */
/**
 * When a batch goes while no call is in flight: `"tick"` (the default) once the current
 * synchronous code and its promise reactions have run (callers in one loop of awaits share a
 * call); `"turn"` at the end of the event loop's current turn, so everything that turn brought
 * (a server: every request parsed from the sockets read in it) shares one call, at the cost of
 * up to one turn's wait. A server's requests each arrive in a turn of their own callbacks, so
 * with `"tick"` each would make a call of its own.
 */
export type Gather = "tick" | "turn";

export class Batcher<Req, Res> {
  private waiting: { req: Req; resolve(r: Res): void; reject(e: unknown): void }[] = [];
  private inFlight = false;
  private queued = false;

  constructor(
    private readonly call: (reqs: Req[]) => Promise<Res[]>,
    private readonly opts: {
      maxBatch: number;
      maxWaiting: number;
      name: string;
      /** How long a call waits for company while none is in flight (see `Gather`). */
      gather?: Gather;
    },
  ) {}

  push(req: Req): Promise<Res> {
    if (this.waiting.length >= this.opts.maxWaiting) {
      return Promise.reject(new Error(`${this.opts.name} is not answering.`));
    }
    const result = new Promise<Res>((resolve, reject) => {
      this.waiting.push({ req, resolve, reject });
    });
    if (!this.inFlight && !this.queued) {
      this.queued = true;
      if (this.opts.gather === "turn") setImmediate(this.flush);
      else queueMicrotask(this.flush);
    }
    return result;
  }

  /** The batch of the call in flight (one at a time). */
  private batch: { req: Req; resolve(r: Res): void; reject(e: unknown): void }[] = [];

  private send(): void {
    if (this.inFlight || this.waiting.length === 0) return;
    const batch = this.waiting.splice(0, this.opts.maxBatch);
    this.inFlight = true;
    this.batch = batch;
    const reqs: Req[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) reqs[i] = batch[i]!.req;
    let call: Promise<Res[]>;
    try {
      call = this.call(reqs);
    } catch (err) {
      call = Promise.reject(err);
    }
    // One reaction for the outcome and the next call, made once (fewer turns and closures per call).
    call.then(this.answered, this.failed);
  }

  private readonly flush = (): void => {
    this.queued = false;
    this.send();
  };

  private readonly answered = (results: Res[]): void => {
    const batch = this.batch;
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
    this.next();
  };

  private readonly failed = (err: unknown): void => {
    for (const w of this.batch) w.reject(err);
    this.next();
  };

  private next(): void {
    this.batch = [];
    this.inFlight = false;
    this.send();
  }
}
