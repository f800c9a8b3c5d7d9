/**
 * Polling with a deadline, for what happens asynchronously elsewhere (another process, a
 * database, a reconnecting socket). Errors thrown by `check` count as "not yet"; the last one is
 * reported if the deadline passes.
 *
 * @example
 * const row = await waitFor(() => findRow(id), { what: "the row in SQL", timeout: 15_000 });
 */
export interface WaitOptions {
  /** Give up after this many milliseconds. Default 10 000. */
  timeout?: number;
  /** Pause between attempts, in ms. Default 20. */
  interval?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/** Calls `check` until it returns a truthy value, which is returned; throws at the deadline. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeout = 10_000, interval = 20, what = "condition" }: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError ? `: ${(lastError as Error).message}` : "";
      throw new Error(`Timed out after ${timeout} ms waiting for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
