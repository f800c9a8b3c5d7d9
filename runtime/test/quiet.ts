// Setup file: a passing run prints no log lines. A test that provokes errors captures them
// (captureLogger, a connection's onError, or a console spy) and asserts on them; anything that
// still reaches console.error or console.warn (where Troupe's default logger and the client's
// unhandled connection errors write) fails the test that printed it.
import { format } from "node:util";
import { afterEach } from "vitest";

const printed: string[] = [];

for (const level of ["error", "warn"] as const) {
  const print = console[level];
  // A wrapper rather than a spy: tests that spy on the console (and restore it) keep working.
  console[level] = (...args: unknown[]) => {
    printed.push(`console.${level}: ${format(...args)}`);
    print.apply(console, args);
  };
}

afterEach(() => {
  if (printed.length === 0) return;
  const lines = printed.splice(0).map((line) => line.split("\n")[0]!.slice(0, 300));
  throw new Error(
    `This test (or work an earlier test in this file left running) printed ${lines.length} ` +
      `log line(s); capture and assert on them instead (captureLogger(), onError):\n` +
      lines.join("\n"),
  );
});
