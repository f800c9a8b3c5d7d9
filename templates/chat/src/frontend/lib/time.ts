/**
 * Dates as the chat shows them: clock times on messages, "5 min ago" in the room list, day
 * separators, and the value of a `<input type="datetime-local">` (local time, no zone) for
 * send-later. `locale` is the browser's unless given (tests pin it).
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** Whole calendar days from `then` to `now` (0 = same day, 1 = yesterday, -1 = tomorrow). */
export function calendarDaysBetween(then: number, now: number): number {
  return Math.round((startOfDay(now) - startOfDay(then)) / DAY);
}

/** "14:05" (or "2:05 PM", per locale). */
export function formatClock(ms: number, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit" }).format(ms);
}

/** "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", then a date. */
export function formatRelative(ms: number, now: number, locale?: string): string {
  const diff = now - ms;
  if (diff < MINUTE) return "just now";
  if (diff < HOUR) return `${Math.floor(diff / MINUTE)} min ago`;
  const days = calendarDaysBetween(ms, now);
  if (days === 0) return `${Math.floor(diff / HOUR)} h ago`;
  if (days === 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  return formatDate(ms, now, locale);
}

/** "24 Nov", with the year when it is not this year. */
export function formatDate(ms: number, now: number, locale?: string): string {
  const sameYear = new Date(ms).getFullYear() === new Date(now).getFullYear();
  return new Intl.DateTimeFormat(locale, {
    day: "numeric",
    month: "short",
    ...(sameYear ? {} : { year: "numeric" }),
  }).format(ms);
}

/** Day separator of the message list: "Today", "Yesterday", "Monday 24 November". */
export function formatDayLabel(ms: number, now: number, locale?: string): string {
  const days = calendarDaysBetween(ms, now);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  const sameYear = new Date(ms).getFullYear() === new Date(now).getFullYear();
  return new Intl.DateTimeFormat(locale, {
    weekday: "long",
    day: "numeric",
    month: "long",
    ...(sameYear ? {} : { year: "numeric" }),
  }).format(ms);
}

/** When a scheduled message goes out: "today at 14:05", "tomorrow at 9:00", "24 Nov at 9:00". */
export function formatScheduled(ms: number, now: number, locale?: string): string {
  const days = calendarDaysBetween(ms, now);
  const clock = formatClock(ms, locale);
  if (days === 0) return `today at ${clock}`;
  if (days === -1) return `tomorrow at ${clock}`;
  return `${formatDate(ms, now, locale)} at ${clock}`;
}

/** Full date and time for a tooltip. */
export function formatFull(ms: number, locale?: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: "full", timeStyle: "short" }).format(ms);
}

const pad = (n: number) => String(n).padStart(2, "0");

/** The value of a datetime-local input for `ms` (local time, to the minute). */
export function toDateTimeLocal(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value ("2026-11-26T14:05", seconds optional) as ms, or null if malformed. */
export function parseDateTimeLocal(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac] = m;
  const date = new Date(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi),
    Number(s ?? 0),
    Number((frac ?? "0").padEnd(3, "0")),
  );
  if (date.getMonth() !== Number(mo) - 1 || date.getDate() !== Number(d)) return null;
  return date.getTime();
}

/** A sensible default for "send later": the next full hour at least 30 minutes away. */
export function defaultScheduleTime(now: number): number {
  const earliest = now + 30 * MINUTE;
  const d = new Date(earliest);
  d.setMinutes(0, 0, 0);
  return d.getTime() === earliest ? earliest : d.getTime() + HOUR;
}
