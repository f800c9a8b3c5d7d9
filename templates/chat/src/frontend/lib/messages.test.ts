import { describe, expect, it } from "vitest";
import {
  initials,
  type Message,
  markDeleted,
  mayHaveOlder,
  mergeMessages,
  snippetParts,
  startsGroup,
  typingSentence,
  visibleMessages,
} from "./messages.js";

function msg(seq: number, over: Partial<Message> = {}): Message {
  return {
    id: `m${seq}`,
    orgId: "acme",
    roomId: "r",
    seq,
    authorId: "ada",
    authorName: "Ada",
    text: `message ${seq}`,
    createdAt: 1_000_000 + seq * 1000,
    editedAt: null,
    deletedAt: null,
    version: 1,
    ...over,
  };
}

describe("mergeMessages", () => {
  it("sorts by seq and keeps one entry per id", () => {
    const merged = mergeMessages([msg(3), msg(5)], [msg(4), msg(1), msg(5)]);
    expect(merged.map((m) => m.seq)).toEqual([1, 3, 4, 5]);
  });

  it("keeps the newest version whatever the arrival order", () => {
    const edited = msg(2, { text: "edited", version: 2, editedAt: 5 });
    expect(mergeMessages([msg(2)], [edited])[0]!.text).toBe("edited");
    expect(mergeMessages([edited], [msg(2)])[0]!.text).toBe("edited");
  });

  it("returns the same array when nothing changes (no re-render)", () => {
    const current = [msg(1), msg(2)];
    expect(mergeMessages(current, [msg(1)])).toBe(current);
    expect(mergeMessages(current, [])).toBe(current);
  });
});

describe("deletes and history", () => {
  it("markDeleted leaves a hidden tombstone", () => {
    const after = markDeleted([msg(1), msg(2)], "m1", 99);
    expect(after[0]).toMatchObject({ text: "", deletedAt: 99, version: 2 });
    expect(visibleMessages(after).map((m) => m.id)).toEqual(["m2"]);
    expect(markDeleted(after, "m1")).toBe(after);
  });

  it("mayHaveOlder: only when the first loaded seq is above 1 and history is not exhausted", () => {
    expect(mayHaveOlder([msg(1), msg(2)], false)).toBe(false);
    expect(mayHaveOlder([msg(51), msg(52)], false)).toBe(true);
    expect(mayHaveOlder([msg(51)], true)).toBe(false);
    expect(mayHaveOlder([], false)).toBe(false);
  });
});

describe("presentation helpers", () => {
  it("startsGroup: another author, a pause over 5 minutes, or the first message", () => {
    expect(startsGroup(undefined, msg(1))).toBe(true);
    expect(startsGroup(msg(1), msg(2))).toBe(false);
    expect(startsGroup(msg(1), msg(2, { authorId: "grace" }))).toBe(true);
    expect(startsGroup(msg(1), msg(2, { createdAt: msg(1).createdAt + 6 * 60_000 }))).toBe(true);
  });

  it("typingSentence", () => {
    expect(typingSentence([])).toBeNull();
    expect(typingSentence(["Ada"])).toBe("Ada is typing…");
    expect(typingSentence(["Ada", "Grace"])).toBe("Ada and Grace are typing…");
    expect(typingSentence(["A", "B", "C"])).toBe("A, B and C are typing…");
    expect(typingSentence(["A", "B", "C", "D", "E"])).toBe("A, B and 3 others are typing…");
  });

  it("snippetParts splits <<matches>> out", () => {
    expect(snippetParts("plan the <<launch>> on <<Monday>>")).toEqual([
      { text: "plan the ", match: false },
      { text: "launch", match: true },
      { text: " on ", match: false },
      { text: "Monday", match: true },
    ]);
    expect(snippetParts("no match")).toEqual([{ text: "no match", match: false }]);
  });

  it("initials", () => {
    expect(initials("Ada Lovelace")).toBe("AL");
    expect(initials("grace")).toBe("G");
    expect(initials("Jean Paul Sartre")).toBe("JS");
    expect(initials("  ")).toBe("?");
  });
});
