// What a capturing logger holds, without stacks: tests assert on what was logged, not on where.
import type { CapturedLogger } from "troupe/test";

export interface LoggedLine {
  level: string;
  message: string;
  /** The logged error's message, when the entry carries an error. */
  error?: string;
  [field: string]: unknown;
}

/**
 * The captured entries in order as `{ level, message, error, ...picked }`: `error` is the logged
 * error's message (absent when none), `picked` the named context fields (e.g. "action", "key").
 */
export function logged(logger: CapturedLogger, ...picked: string[]): LoggedLine[] {
  return logger.entries.map((entry) => {
    const line: LoggedLine = { level: entry.level, message: entry.message };
    const error = entry.fields.error;
    if (error !== undefined) line.error = error instanceof Error ? error.message : String(error);
    for (const name of picked) line[name] = entry.fields[name];
    return line;
  });
}
