/** Polling with a deadline, for everything that happens asynchronously in another process. */

export interface WaitOptions {
  /** Give up after this many milliseconds (default 10 s). */
  timeout?: number;
  /** Pause between attempts (default 50 ms). */
  interval?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/**
 * Calls `check` until it returns a truthy value (returned) or the deadline passes (throws, with
 * the last error `check` threw, if any). Errors thrown by `check` count as "not yet".
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeout = 10_000, interval = 50, what = "condition" }: WaitOptions = {},
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
