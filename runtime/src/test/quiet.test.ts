import { expect, it, vi } from "vitest";
import { checkNothingPrinted, recordPrinting } from "./quiet.js";

it("a test that printed an error or a warning fails, with the lines it printed", () => {
  // A console of its own, so that this test itself prints nothing.
  const error = vi.fn();
  const warn = vi.fn();
  const target = { error, warn };
  recordPrinting(target);
  const boom = new Error("boom");
  target.error("[troupe] error something broke", boom);
  target.warn("[chat] careful");
  // Still printed, as before.
  expect(error).toHaveBeenCalledWith("[troupe] error something broke", boom);
  expect(warn).toHaveBeenCalledWith("[chat] careful");
  expect(() => checkNothingPrinted()).toThrow(
    /printed 2 log line\(s\)[\s\S]*console\.error: \[troupe\] error something broke Error: boom[\s\S]*console\.warn: \[chat\] careful/,
  );
  // Checked once: the next check (this test's own afterEach) finds nothing.
  expect(() => checkNothingPrinted()).not.toThrow();
});
