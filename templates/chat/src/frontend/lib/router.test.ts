import { describe, expect, it } from "vitest";
import { parseRoute, roomPath, searchPath } from "./router.js";

describe("routes", () => {
  it("parses the four screens", () => {
    expect(parseRoute("/")).toEqual({ name: "home" });
    expect(parseRoute("/unknown/path")).toEqual({ name: "home" });
    expect(parseRoute("/rooms/abc-123")).toEqual({
      name: "room",
      roomId: "abc-123",
      messageId: null,
    });
    expect(parseRoute("/rooms/abc/", "", "#m-xyz")).toEqual({
      name: "room",
      roomId: "abc",
      messageId: "xyz",
    });
    expect(parseRoute("/search", "?q=hello%20world")).toEqual({ name: "search", q: "hello world" });
    expect(parseRoute("/join/AbC_-12")).toEqual({ name: "join", code: "AbC_-12" });
    expect(parseRoute("/join/")).toEqual({ name: "home" });
  });

  it("builds paths that parse back", () => {
    const room = new URL(roomPath("r 1", "m/2"), "http://x");
    expect(parseRoute(room.pathname, room.search, room.hash)).toEqual({
      name: "room",
      roomId: "r 1",
      messageId: "m/2",
    });
    const search = new URL(searchPath("a&b=c"), "http://x");
    expect(parseRoute(search.pathname, search.search)).toEqual({ name: "search", q: "a&b=c" });
  });
});
