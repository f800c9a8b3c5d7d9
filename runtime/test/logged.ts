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

/**
 * The same shape from the text the default logger printed (`[troupe] <level> <message> <json>`,
 * one entry a line), e.g. a workerd process's output; other lines are skipped.
 */
export function loggedText(text: string, ...picked: string[]): LoggedLine[] {
  const lines: LoggedLine[] = [];
  for (const raw of text.split("\n")) {
    const m = /^\[troupe\] (\w+) (.*?)(?: (\{.*\}))?$/.exec(raw);
    if (!m) continue;
    const fields = (m[3] ? JSON.parse(m[3]) : {}) as Record<string, unknown>;
    const line: LoggedLine = { level: m[1]!, message: m[2]! };
    const error = fields.error as { message?: string } | string | undefined;
    if (error !== undefined) line.error = typeof error === "string" ? error : error.message;
    for (const name of picked) line[name] = fields[name];
    lines.push(line);
  }
  return lines;
}
