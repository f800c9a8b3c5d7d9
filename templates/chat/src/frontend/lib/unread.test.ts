import { describe, expect, it } from "vitest";
import type { RoomRead, RoomSummary } from "../../actors/index.js";
import { pageTitle, unreadByRoom, unreadCount, unreadLabel } from "./unread.js";

const read = (r: Partial<RoomRead>): RoomRead => ({
  readSeq: 0,
  ownSeqs: [],
  left: false,
  at: 0,
  ...r,
});

describe("unread counts", () => {
  it("counts messages after the read position, minus one's own", () => {
    expect(unreadCount(0, undefined)).toBe(0);
    expect(unreadCount(7, undefined)).toBe(7); // never opened
    expect(unreadCount(7, read({ readSeq: 7 }))).toBe(0);
    expect(unreadCount(7, read({ readSeq: 9 }))).toBe(0);
    expect(unreadCount(10, read({ readSeq: 5, ownSeqs: [6, 9] }))).toBe(3);
    // Own messages the list has not heard of yet do not make the count negative.
    expect(unreadCount(6, read({ readSeq: 5, ownSeqs: [7, 8] }))).toBe(1);
    expect(unreadCount(10, read({ readSeq: 2, left: true }))).toBe(0);
  });

  it("caps the label at 99+ and titles the page with the total", () => {
    expect(unreadLabel(0)).toBe("");
    expect(unreadLabel(1)).toBe("1");
    expect(unreadLabel(99)).toBe("99");
    expect(unreadLabel(100)).toBe("99+");
    expect(pageTitle(0)).toBe("Troupe chat");
    expect(pageTitle(3)).toBe("(3) Troupe chat");
    expect(pageTitle(1000)).toBe("(99+) Troupe chat");
  });

  it("the open room counts nothing", () => {
    const rooms = [
      { id: "a", lastSeq: 4 },
      { id: "b", lastSeq: 2 },
    ] as RoomSummary[];
    expect(unreadByRoom(rooms, { b: read({ readSeq: 1 }) }, "a")).toEqual({ a: 0, b: 1 });
  });
});
