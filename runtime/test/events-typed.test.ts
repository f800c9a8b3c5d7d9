// Declared events (`events: { name: event<Payload>() }`) at run time: the declaration changes
// nothing on the wire; typed listeners receive exactly what the actor sent, on Node and on
// workerd. The type checks themselves are in types.test.ts.
import { actor } from "troupe";
import { waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { type Position, typedEventsRegistry } from "./fixtures/spec-examples/actors.js";
import { type Served, serve, TARGETS } from "./spec-targets.js";

const registry = typedEventsRegistry();
let t: Served<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe.each(TARGETS)("declared events on %s", (target) => {
  test("broadcasts and sends reach typed listeners with their payloads", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
    const conn = t.client.game.getOrCreate(["g"]).connect();
    const moves: Position[] = [];
    const resets: unknown[][] = [];
    conn.on("moved", (to) => moves.push(to));
    conn.on("reset", (...args) => resets.push(args));
    expect(await conn.move({ x: 1, y: 2 })).toBe(1);
    await conn.reset();
    await waitFor(() => moves.length === 1 && resets.length === 1, { timeout: 60_000 });
    expect(moves).toEqual([{ x: 1, y: 2 }]);
    expect(resets).toEqual([[]]);
    await conn.dispose();
  });
});

describe("declared events", () => {
  test("actor() refuses an events field that is not an object of event() declarations", () => {
    expect(() => actor({ events: ["moved"] as never, actions: {} })).toThrow(
      "`events` must be an object",
    );
  });
});
