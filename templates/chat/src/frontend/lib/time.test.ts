import { describe, expect, it } from "vitest";
import {
  calendarDaysBetween,
  defaultScheduleTime,
  formatClock,
  formatDayLabel,
  formatRelative,
  formatScheduled,
  parseDateTimeLocal,
  toDateTimeLocal,
} from "./time.js";

// Local times, so the tests hold in any time zone.
const at = (d: number, h: number, m = 0, s = 0) => new Date(2026, 10, d, h, m, s).getTime();
const NOW = at(26, 14, 30);

describe("relative times", () => {
  it("counts calendar days, not 24-hour spans", () => {
    expect(calendarDaysBetween(at(26, 0, 5), NOW)).toBe(0);
    expect(calendarDaysBetween(at(25, 23, 55), NOW)).toBe(1);
    expect(calendarDaysBetween(at(27, 9), NOW)).toBe(-1);
  });

  it("formatRelative", () => {
    expect(formatRelative(NOW - 20_000, NOW)).toBe("just now");
    expect(formatRelative(NOW - 5 * 60_000, NOW)).toBe("5 min ago");
    expect(formatRelative(at(26, 11, 0), NOW)).toBe("3 h ago");
    expect(formatRelative(at(25, 23, 0), NOW)).toBe("yesterday");
    expect(formatRelative(at(22, 10), NOW)).toBe("4 days ago");
    expect(formatRelative(at(2, 10), NOW, "en-GB")).toBe("2 Nov");
    expect(formatRelative(new Date(2025, 0, 3).getTime(), NOW, "en-GB")).toBe("3 Jan 2025");
  });

  it("formatDayLabel", () => {
    expect(formatDayLabel(at(26, 9), NOW)).toBe("Today");
    expect(formatDayLabel(at(25, 9), NOW)).toBe("Yesterday");
    expect(formatDayLabel(at(23, 9), NOW, "en-GB")).toBe("Monday 23 November");
  });

  it("formatClock and formatScheduled", () => {
    expect(formatClock(at(26, 9, 5), "en-GB")).toBe("9:05");
    expect(formatClock(at(26, 21, 5), "en-US")).toMatch(/^9:05\sPM$/);
    expect(formatScheduled(at(26, 16, 0), NOW, "en-GB")).toBe("today at 16:00");
    expect(formatScheduled(at(27, 9, 0), NOW, "en-GB")).toBe("tomorrow at 9:00");
    expect(formatScheduled(at(30, 9, 0), NOW, "en-GB")).toBe("30 Nov at 9:00");
  });
});

describe("datetime-local values", () => {
  it("round-trips local time to the minute", () => {
    expect(toDateTimeLocal(at(6, 9, 7))).toBe("2026-11-06T09:07");
    expect(parseDateTimeLocal("2026-11-06T09:07")).toBe(at(6, 9, 7));
  });

  it("accepts seconds and rejects malformed or impossible dates", () => {
    expect(parseDateTimeLocal("2026-11-06T09:07:30")).toBe(at(6, 9, 7, 30));
    expect(parseDateTimeLocal("")).toBeNull();
    expect(parseDateTimeLocal("tomorrow")).toBeNull();
    expect(parseDateTimeLocal("2026-02-30T10:00")).toBeNull();
  });

  it("defaultScheduleTime is the next full hour at least 30 minutes away", () => {
    expect(defaultScheduleTime(at(26, 14, 10))).toBe(at(26, 15));
    expect(defaultScheduleTime(at(26, 14, 30))).toBe(at(26, 15));
    expect(defaultScheduleTime(at(26, 14, 40))).toBe(at(26, 16));
  });
});
