// c.client() calls other actors of the registry in-process, with wire semantics.
import { actor, setup, UserError } from "troupe";
import { setupTest, type TestRuntime } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";

const inventory = actor({
  state: { stock: 100 },
  actions: {
    reserve: (c, amount: number) => {
      if (amount > c.state.stock) throw new UserError("Out of stock", { code: "out_of_stock" });
      c.state.stock -= amount;
      return { reserved: amount, left: c.state.stock };
    },
    stock: (c) => c.state.stock,
    mutateArg: (_c, obj: { n: number }) => {
      obj.n = 999;
      return obj;
    },
  },
});

const order = actor({
  state: { orders: 0 },
  actions: {
    process: async (c, amount: number) => {
      const client = c.client<typeof registry>();
      const result = await client.inventory.getOrCreate(["main"]).reserve(amount);
      c.state.orders++;
      return result;
    },
    tryProcess: async (c, amount: number) => {
      const client = c.client<typeof registry>();
      try {
        await client.inventory.getOrCreate(["main"]).reserve(amount);
        return "ok";
      } catch (err) {
        return (err as { code: string }).code;
      }
    },
    isolation: async (c) => {
      const arg = { n: 1 };
      const out = await c.client<typeof registry>().inventory.getOrCreate(["main"]).mutateArg(arg);
      return { arg, out };
    },
    fanOut: async (c, n: number) => {
      const client = c.client<typeof registry>();
      const all = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          client.inventory.getOrCreate([`shard-${i}`]).reserve(1),
        ),
      );
      return all.map((r) => r.left);
    },
  },
});

const registry = setup({ use: { inventory, order } });
let t: TestRuntime<typeof registry>;
afterEach(() => t?.close());

describe("actor to actor", () => {
  test("an action calls another actor and both states change", async () => {
    t = await setupTest(registry);
    expect(await t.client.order.getOrCreate(["o1"]).process(3)).toEqual({ reserved: 3, left: 97 });
    expect(await t.client.inventory.getOrCreate(["main"]).stock()).toBe(97);
  });

  test("a UserError from the callee arrives as an ActorError with its code", async () => {
    t = await setupTest(registry);
    expect(await t.client.order.getOrCreate(["o2"]).tryProcess(1000)).toBe("out_of_stock");
  });

  test("arguments and results are copies, as over the network", async () => {
    t = await setupTest(registry);
    expect(await t.client.order.getOrCreate(["o3"]).isolation()).toEqual({
      arg: { n: 1 },
      out: { n: 999 },
    });
  });

  test("fan-out to many actors in parallel", async () => {
    t = await setupTest(registry);
    expect(await t.client.order.getOrCreate(["o4"]).fanOut(10)).toEqual(Array(10).fill(99));
  });
});
