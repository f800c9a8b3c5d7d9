import { describe, expect, it, vi } from "vitest";
import { ReconnectTracker } from "./reconnecting.js";

describe("ReconnectTracker", () => {
  it("is reconnecting while any view says so, whatever the others of the same actor say", () => {
    const tracker = new ReconnectTracker();
    const listener = vi.fn();
    tracker.subscribe(listener);
    const roomView = {};
    const headerOfSameRoom = {};
    tracker.set(roomView, true);
    // A second view of the same room, mounted during the outage, was never connected: it does
    // not report reconnecting, and must not hide the first one's report.
    tracker.set(headerOfSameRoom, false);
    expect(tracker.any()).toBe(true);
    tracker.set(headerOfSameRoom, true);
    tracker.set(roomView, false); // e.g. unmounted
    expect(tracker.any()).toBe(true);
    tracker.set(headerOfSameRoom, false);
    expect(tracker.any()).toBe(false);
    expect(listener).toHaveBeenCalledTimes(4);
    tracker.set(roomView, false); // no change, no call
    expect(listener).toHaveBeenCalledTimes(4);
  });
});
