// Declared events (`events: { name: event<Payload>() }`) at run time: the declaration changes
// nothing on the wire; typed listeners receive exactly what the actor sent. The type checks
// themselves are in types.test.ts.
import { actor, event, setup } from "troupe";
import { setupTest, type TestRuntime, waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";

type Position = { x: number; y: number };
const game = actor({
  state: { moves: 0 },
  events: { moved: event<Position>(), reset: event() },
  actions: {
    move: (c, to: Position) => {
      c.state.moves++;
      c.broadcast("moved", to);
      return c.state.moves;
    },
    reset: (c) => {
      c.conn.send("reset");
    },
  },
});
const registry = setup({ use: { game } });
let t: TestRuntime<typeof registry>;
afterEach(() => t?.close());

describe("declared events", () => {
  test("broadcasts and sends reach typed listeners with their payloads", async () => {
    t = await setupTest(registry);
    const conn = t.client.game.getOrCreate(["g"]).connect();
    const moves: Position[] = [];
    const resets: unknown[][] = [];
    conn.on("moved", (to) => moves.push(to));
    conn.on("reset", (...args) => resets.push(args));
    expect(await conn.move({ x: 1, y: 2 })).toBe(1);
    await conn.reset();
    await waitFor(() => moves.length === 1 && resets.length === 1);
    expect(moves).toEqual([{ x: 1, y: 2 }]);
    expect(resets).toEqual([[]]);
    await conn.dispose();
  });

  test("actor() refuses an events field that is not an object of event() declarations", () => {
    expect(() => actor({ events: ["moved"] as never, actions: {} })).toThrow(
      "`events` must be an object",
    );
  });
});
