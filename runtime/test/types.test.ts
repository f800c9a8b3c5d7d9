// Type inference: checked by `pnpm typecheck` (tsc) and run as ordinary tests by Vitest.
import { type ActionContextOf, type ActorContextOf, actor, setup } from "troupe";
import { type ActorError, createClient } from "troupe/client";
import { describe, expectTypeOf, test } from "vitest";

const counter = actor({
  state: { count: 0 },
  actions: {
    increment: (c, amount: number) => (c.state.count += amount),
    label: async (c, prefix: string, suffix?: string) => `${prefix}${c.state.count}${suffix ?? ""}`,
  },
});
const room = actor({
  createState: (_c: unknown, input: { topic: string }) => ({
    topic: input.topic,
    messages: [] as string[],
  }),
  createVars: () => ({ seen: new Set<string>() }),
  actions: {
    topic: (c) => c.state.topic,
    seen: (c) => c.vars.seen.size,
  },
});
const registry = setup({ use: { counter, room } });

describe("types", () => {
  test("the typed client knows actor names, action parameters and results", () => {
    const client = createClient<typeof registry>("http://localhost:1");
    const h = client.counter.getOrCreate(["k"]);
    expectTypeOf(h.increment).parameters.toEqualTypeOf<[amount: number]>();
    expectTypeOf(h.increment).returns.resolves.toEqualTypeOf<number>();
    expectTypeOf(h.label).returns.resolves.toEqualTypeOf<string>();
    expectTypeOf(client.room.getOrCreate(["r"]).topic).returns.resolves.toEqualTypeOf<string>();
    // @ts-expect-error wrong argument type
    void (() => h.increment("one"));
    // @ts-expect-error unknown action
    void (() => h.decrement(1));
    // @ts-expect-error unknown actor
    void (() => client.nope);
    // createWithInput and input are typed from createState
    void (() => client.room.getOrCreate(["r"], { createWithInput: { topic: "x" } }));
    // @ts-expect-error input of the wrong shape
    void (() => client.room.create(["r"], { input: { topic: 1 } }));
    // dispose() is the client's own, typed or not
    expectTypeOf(client.dispose).toEqualTypeOf<() => Promise<void>>();
    expectTypeOf(createClient("http://localhost:1").dispose).returns.resolves.toBeVoid();
  });

  test("helper types give the actor's context", () => {
    expectTypeOf<ActionContextOf<typeof counter>["state"]>().toEqualTypeOf<{ count: number }>();
    expectTypeOf<ActorContextOf<typeof room>["state"]>().toEqualTypeOf<{
      topic: string;
      messages: string[];
    }>();
    expectTypeOf<ActorContextOf<typeof room>["vars"]>().toEqualTypeOf<{ seen: Set<string> }>();
    expectTypeOf<ActorError["code"]>().toEqualTypeOf<string>();
  });
});
