/**
 * `troupe/test/quiet`, for a Vitest setup file: a passing run prints no log lines. A test that
 * provokes errors captures them (`captureLogger()`, a server's `logger` option, a connection's
 * `onError`, or a console spy) and asserts on them; anything that still reaches `console.error`
 * or `console.warn` (where Troupe's default logger, the chat's, and the client's unhandled
 * connection errors write) fails the test that printed it, after printing it as usual.
 *
 * @example
 * // test/quiet.ts, listed in the project's `setupFiles`
 * import { failTestsThatPrint } from "troupe/test/quiet";
 * failTestsThatPrint();
 */
import { format } from "node:util";
import { afterEach } from "vitest";

const printed: string[] = [];
let wrapped = false;

/** Wraps console.error and console.warn, and fails each test after which they were used. */
export function failTestsThatPrint(): void {
  if (!wrapped) {
    wrapped = true;
    recordPrinting(console);
  }
  afterEach(checkNothingPrinted);
}

/**
 * Replaces `target.error` and `target.warn` with wrappers that note each call for
 * `checkNothingPrinted` and then print as before. A wrapper rather than a spy: tests that spy on
 * the console (and restore it) keep working.
 */
export function recordPrinting(target: Pick<Console, "error" | "warn">): void {
  for (const level of ["error", "warn"] as const) {
    const print = target[level];
    target[level] = (...args: unknown[]) => {
      printed.push(`console.${level}: ${format(...args)}`);
      print.apply(target, args);
    };
  }
}

/** Throws if console.error or console.warn were used since the last check (and forgets them). */
export function checkNothingPrinted(): void {
  if (printed.length === 0) return;
  const lines = printed.splice(0).map((line) => line.split("\n")[0]!.slice(0, 300));
  throw new Error(
    `This test (or work an earlier test in this file left running) printed ${lines.length} ` +
      `log line(s); capture and assert on them instead (captureLogger(), the logger option, onError):\n` +
      lines.join("\n"),
  );
}
