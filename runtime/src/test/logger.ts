/**
 * A logger that keeps what it is given instead of printing it, for tests that provoke errors:
 * pass it as `setup({ use, logger })` and assert on `entries`, so a passing run prints no stack
 * traces.
 *
 * @example
 * const logger = captureLogger();
 * const registry = setup({ use: { counter }, logger });
 * // ... provoke a failure ...
 * expect(logger.find("error", "internal error")).toBeDefined();
 */
import type { Logger } from "../log.js";

export interface LogEntry {
  level: "error" | "warn" | "info" | "debug";
  message: string;
  fields: Record<string, unknown>;
}

export interface CapturedLogger extends Logger {
  readonly entries: LogEntry[];
  /** The first entry of this level whose message contains `text`. */
  find(level: LogEntry["level"], text: string): LogEntry | undefined;
  clear(): void;
}

export function captureLogger(): CapturedLogger {
  const entries: LogEntry[] = [];
  const make = (base: Record<string, unknown>): Logger => {
    const push =
      (level: LogEntry["level"]) => (message: string, fields?: Record<string, unknown>) => {
        entries.push({ level, message, fields: { ...base, ...fields } });
      };
    return {
      error: push("error"),
      warn: push("warn"),
      info: push("info"),
      debug: push("debug"),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return Object.assign(make({}), {
    entries,
    find: (level: LogEntry["level"], text: string) =>
      entries.find((e) => e.level === level && e.message.includes(text)),
    clear: () => {
      entries.length = 0;
    },
  });
}
