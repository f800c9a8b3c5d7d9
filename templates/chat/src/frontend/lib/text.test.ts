import { describe, expect, it } from "vitest";
import { COLLAPSE_CHARS, collapsedText, linkify, safeHref } from "./text.js";

describe("linkify", () => {
  it("makes http and https addresses links and leaves the rest as text", () => {
    expect(linkify("see https://example.com/a?b=1#c and http://x.org")).toEqual([
      { kind: "text", text: "see " },
      { kind: "link", text: "https://example.com/a?b=1#c", href: "https://example.com/a?b=1#c" },
      { kind: "text", text: " and " },
      { kind: "link", text: "http://x.org", href: "http://x.org/" },
    ]);
    expect(linkify("no links here")).toEqual([{ kind: "text", text: "no links here" }]);
    expect(linkify("")).toEqual([]);
  });

  it("leaves out the punctuation that ends the sentence, keeps balanced brackets", () => {
    expect(linkify("Read https://a.example/doc.")[1]).toMatchObject({
      text: "https://a.example/doc",
    });
    expect(linkify("(see https://a.example/x)")).toEqual([
      { kind: "text", text: "(see " },
      { kind: "link", text: "https://a.example/x", href: "https://a.example/x" },
      { kind: "text", text: ")" },
    ]);
    const wiki = "https://en.wikipedia.org/wiki/Ada_(programming_language)";
    expect(linkify(`about ${wiki}, really`)[1]).toMatchObject({ text: wiki });
  });

  it("never links other schemes, and never produces HTML", () => {
    for (const text of [
      "javascript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "ftp://example.com/file",
      '<a href="https://evil.example">x</a>',
    ]) {
      const parts = linkify(text);
      for (const p of parts) if (p.kind === "link") expect(p.href).toMatch(/^https?:\/\//);
      expect(parts.map((p) => p.text).join("")).toBe(text);
    }
    expect(linkify("javascript:alert(1)").some((p) => p.kind === "link")).toBe(false);
    expect(safeHref("https://")).toBeNull();
    expect(safeHref("javascript:alert(1)")).toBeNull();
  });
});

describe("collapsedText", () => {
  it("leaves short messages whole", () => {
    expect(collapsedText("hello")).toBeNull();
    expect(collapsedText("x".repeat(COLLAPSE_CHARS))).toBeNull();
    expect(collapsedText("a\nb\nc")).toBeNull();
  });

  it("shortens long and many-line messages at a space, with an ellipsis", () => {
    const long = "word ".repeat(400).trim();
    const short = collapsedText(long)!;
    expect(short.length).toBeLessThan(COLLAPSE_CHARS);
    expect(short.endsWith("word…")).toBe(true);
    const tall = Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n");
    const cut = collapsedText(tall)!;
    expect(cut.split("\n").length).toBeLessThan(12);
    expect(cut.endsWith("…")).toBe(true);
  });

  it("never cuts inside an address", () => {
    const url = `https://example.com/${"p".repeat(300)}`;
    const text = `${"a".repeat(560)} ${url} end`;
    const short = collapsedText(text)!;
    expect(short).toBe(`${"a".repeat(560)}…`);
    const far = `${"a".repeat(400)} ${url} end`;
    expect(collapsedText(far)).toBe(`${"a".repeat(400)}…`);
    expect(collapsedText(`${url}${"q".repeat(800)}`)).toBeNull();
  });
});
