/**
 * A small structured logger. Level from `TROUPE_LOG_LEVEL` (error, warn, info, debug; default
 * info). Each line is `level message {fields}` on stderr so that test output stays readable.
 */

export interface Logger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 } as const;
type Level = keyof typeof LEVELS;

function threshold(): number {
  const env = typeof process !== "undefined" ? process.env?.TROUPE_LOG_LEVEL : undefined;
  return LEVELS[(env as Level) ?? "info"] ?? LEVELS.info;
}

export function createLogger(base: Record<string, unknown> = {}): Logger {
  const max = threshold();
  const emit = (level: Level, message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] > max) return;
    const all = { ...base, ...fields };
    const extra = Object.keys(all).length ? ` ${safeJson(all)}` : "";
    console.error(`[troupe] ${level} ${message}${extra}`);
  };
  return {
    error: (m, f) => emit("error", m, f),
    warn: (m, f) => emit("warn", m, f),
    info: (m, f) => emit("info", m, f),
    debug: (m, f) => emit("debug", m, f),
    child: (fields) => createLogger({ ...base, ...fields }),
  };
}

function safeJson(value: Record<string, unknown>): string {
  return JSON.stringify(value, (_k, v) => {
    if (v instanceof Error) return { name: v.name, message: v.message, stack: v.stack };
    if (typeof v === "bigint") return v.toString();
    return v;
  });
}
