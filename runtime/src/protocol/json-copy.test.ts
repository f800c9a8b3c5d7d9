import { describe, expect, it } from "vitest";
import { jsonCopy, MAX_DIRECT_DEPTH } from "./json-copy.js";

const viaText = (v: unknown) => JSON.parse(JSON.stringify(v));

/** Same structure, same own keys in the same order, same prototypes as JSON's copy. */
function expectSameAsJson(v: unknown) {
  const fast = jsonCopy(v);
  const slow = viaText(v);
  expect(JSON.stringify(fast)).toBe(JSON.stringify(slow));
  expect(fast).toStrictEqual(slow);
  return fast;
}

describe("jsonCopy", () => {
  it("copies plain data exactly as a JSON round trip does", () => {
    const cases: unknown[] = [
      null,
      0,
      -0,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      "text \u{1F600} \ud800",
      true,
      [],
      {},
      [1, "a", null, undefined, () => 1, Symbol("s"), Number.NaN, -0],
      { a: 1, b: undefined, c: () => 1, d: Symbol("s"), e: [{ f: { g: [] } }], 2: "x", 1: "y" },
      // biome-ignore lint/suspicious/noSparseArray: a hole is one of the cases
      [1, , 3],
      {
        nested: {
          deeper: {
            list: [
              [1, 2],
              [3, { x: "y" }],
            ],
          },
        },
      },
      [[0, "", 0, 0, ""]],
    ];
    for (const v of cases) expectSameAsJson(v);
  });

  it("never aliases the input", () => {
    const inner = { n: 1 };
    const v = { inner, list: [inner] };
    const copy = jsonCopy(v);
    expect(copy).toEqual(v);
    expect(copy.inner).not.toBe(inner);
    expect(copy.list[0]).not.toBe(inner);
    copy.inner.n = 2;
    expect(inner.n).toBe(1);
  });

  it("keeps an own __proto__ key as data, never as the prototype", () => {
    const v = JSON.parse('{"__proto__": {"isAdmin": true}, "a": 1}');
    const copy = expectSameAsJson(v) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { isAdmin?: boolean }).isAdmin).toBeUndefined();
    expect(Object.keys(copy)).toEqual(["__proto__", "a"]);
  });

  it("hands everything that is not plain data to JSON itself", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const withToJson = { toJSON: () => ({ replaced: true }) };
    const cases: unknown[] = [
      new Date(0),
      { at: new Date(0) },
      [new Point(1, 2)],
      new Map([[1, 2]]),
      withToJson,
      { inner: withToJson },
      Object.create(null),
      Object.assign(Object.create(null), { a: 1 }),
    ];
    for (const v of cases) expectSameAsJson(v);
  });

  it("throws what JSON throws: cycles and bigints", () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    expect(() => jsonCopy(cycle)).toThrow(/circular/i);
    expect(() => jsonCopy({ n: 1n })).toThrow(TypeError);
  });

  it("copies nesting deeper than it walks itself through JSON", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < MAX_DIRECT_DEPTH * 3; i++) deep = i % 2 ? [deep] : { d: deep };
    expectSameAsJson(deep);
  });

  it("leaves undefined alone and refuses top-level values JSON has no text for", () => {
    expect(jsonCopy(undefined)).toBeUndefined();
    expect(() => jsonCopy(() => 1)).toThrow();
    expect(() => jsonCopy(Symbol("s"))).toThrow();
  });
});
