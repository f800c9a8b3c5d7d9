// c.client() calls other actors of the registry in-process, with wire semantics; on workerd
// through the Durable Object namespace (registry in fixtures/spec-examples/actors.ts).
import { setupTest, type TestRuntime, waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { actorToActorRegistry } from "./fixtures/spec-examples/actors.js";
import { type Served, serve, TARGETS } from "./spec-targets.js";

const registry = actorToActorRegistry();
let t: Served<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

// On workerd the actors outlive a test (one process per file): the tests run in this order, and
// each uses its own order key.
describe.each(TARGETS)("actor to actor on %s", (target) => {
  test("an action calls another actor and both states change", { timeout: 120_000 }, async () => {
    t = await serve(target, registry);
    expect(await t.client.order.getOrCreate(["o1"]).process(3)).toEqual({ reserved: 3, left: 97 });
    expect(await t.client.inventory.getOrCreate(["main"]).stock()).toBe(97);
  });

  test("a UserError from the callee arrives as an ActorError with its code", async () => {
    t = await serve(target, registry);
    expect(await t.client.order.getOrCreate(["o2"]).tryProcess(1000)).toBe("out_of_stock");
  });

  test("arguments and results are copies, as over the network", async () => {
    t = await serve(target, registry);
    expect(await t.client.order.getOrCreate(["o3"]).isolation()).toEqual({
      arg: { n: 1 },
      out: { n: 999 },
    });
  });

  test("fan-out to many actors in parallel", { timeout: 60_000 }, async () => {
    t = await serve(target, registry);
    expect(await t.client.order.getOrCreate(["o4"]).fanOut(10)).toEqual(Array(10).fill(99));
  });
});

// The engine's in-process client (Node): a handle remembers the instance it reached.
describe("the in-process client", () => {
  let rt: TestRuntime<typeof registry> | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  test("one handle keeps reaching its actor across destroy and re-creation", async () => {
    rt = await setupTest(registry, { clock: "system" });
    const handle = rt.engine.client().inventory.getOrCreate(["reused"]);
    expect(await handle.reserve(10)).toEqual({ reserved: 10, left: 90 });
    await handle.destroySelf();
    await waitFor(async () => (await handle.stock()) === 100, { timeout: 10_000 });
    expect(await handle.reserve(1)).toEqual({ reserved: 1, left: 99 });
  });

  test("synchronous and asynchronous actions both answer through it", async () => {
    rt = await setupTest(registry, { clock: "system" });
    const handle = rt.engine.client().inventory.getOrCreate(["async"]);
    expect(await handle.slow(5)).toBe(100);
    expect(await handle.stock()).toBe(100);
  });
});
