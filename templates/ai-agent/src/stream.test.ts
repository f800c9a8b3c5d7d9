// Resumption positions: whatever order tokens and readStream answers arrive in, the followed
// text is the message's text, with no gap and no duplicate.
import { describe, expect, it } from "vitest";
import { applyChunk, applyToken, emptyStream } from "./stream.js";

const words = ["The ", "quick ", "brown ", "fox ", "jumps"];
const tokens = words.map((delta, i) => ({
  messageId: "m",
  start: words.slice(0, i).join("").length,
  delta,
}));
const full = words.join("");

describe("stream positions", () => {
  it("appends tokens in order", () => {
    let s = emptyStream("m");
    for (const t of tokens) s = applyToken(s, t).stream;
    expect(s.text).toBe(full);
  });

  it("drops tokens it already has (from a readStream answer) and keeps the rest", () => {
    let s = applyChunk(emptyStream("m"), {
      messageId: "m",
      from: 0,
      text: "The quick br",
      end: 12,
      status: "streaming",
    });
    for (const t of tokens) s = applyToken(s, t).stream;
    expect(s.text).toBe(full);
  });

  it("reports a gap instead of appending out of place, and fills it from readStream", () => {
    let s = applyToken(emptyStream("m"), tokens[0]!).stream;
    const r = applyToken(s, tokens[2]!);
    expect(r.gap).toBe(true);
    expect(r.stream.text).toBe("The ");
    s = applyChunk(r.stream, {
      messageId: "m",
      from: 4,
      text: "quick brown ",
      end: 16,
      status: "streaming",
    });
    for (const t of tokens.slice(2)) s = applyToken(s, t).stream;
    expect(s.text).toBe(full);
  });

  it("ignores other messages' tokens", () => {
    const s = applyToken(emptyStream("m"), { messageId: "other", start: 0, delta: "x" });
    expect(s.stream.text).toBe("");
    expect(s.gap).toBe(false);
  });
});
