// Keys are arrays encoded injectively; one live instance per (name, key), even under races. On
// Node and on workerd (where the same encoding names each actor's Durable Object).
import { afterEach, describe, expect, test } from "vitest";
import { keysRegistry } from "./fixtures/suites/keys.js";
import { type Served, serve, TARGETS } from "./spec-targets.js";

const registry = keysRegistry();
let t: Served<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

// On workerd the actors outlive a test (one process per file): each test uses keys of its own
// where what it asserts depends on a fresh actor.
describe.each(TARGETS)("keys on %s", (target) => {
  test("keys that a string join would confuse are different actors", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
    const pairs: [string[], string[]][] = [
      [
        ["a/b", "c"],
        ["a", "b/c"],
      ],
      [["a,b"], ["a", "b"]],
      [["a:b"], ["a", "b"]],
      [[""], []],
      [["", ""], [""]],
      [['"]'], ["]"]],
    ];
    for (const [x, y] of pairs) {
      const ix = await t.client.box.getOrCreate(x).id();
      const iy = await t.client.box.getOrCreate(y).id();
      expect(ix, `${JSON.stringify(x)} vs ${JSON.stringify(y)}`).not.toBe(iy);
      expect(await t.client.box.getOrCreate(x).key()).toEqual(x);
      expect(await t.client.box.getOrCreate(y).key()).toEqual(y);
    }
  });

  test("empty, unicode and long keys work; a string key means a one-part key", async () => {
    t = await serve(target, registry);
    expect(await t.client.box.getOrCreate().key()).toEqual([]);
    expect(await t.client.box.getOrCreate([]).key()).toEqual([]);
    const uni = ["日本語", "émoji 🎭", "\u0000nul"];
    expect(await t.client.box.getOrCreate(uni).key()).toEqual(uni);
    const long = ["x".repeat(1500)];
    expect(await t.client.box.getOrCreate(long).key()).toEqual(long);
    expect(await t.client.box.getOrCreate("solo").id()).toBe(
      await t.client.box.getOrCreate(["solo"]).id(),
    );
  });

  test("an over-long key is a clear error", async () => {
    t = await serve(target, registry);
    const err = await t.client.box
      .getOrCreate(["y".repeat(5000)])
      .hit()
      .catch((e) => e);
    expect(err.code).toBe("key_too_long");
    expect(err.message).toMatch(/2048 bytes/);
  });

  test("the same key under two actor names is two actors", async () => {
    t = await serve(target, registry);
    await t.client.box.getOrCreate(["k"]).hit();
    expect(await t.client.other.getOrCreate(["k"]).key()).toEqual(["k"]);
    expect(await t.client.other.getOrCreate(["k"]).resolve()).not.toBe(
      await t.client.box.getOrCreate(["k"]).resolve(),
    );
  });

  test("exactly one instance under 50 concurrent getOrCreate of a new key", async () => {
    t = await serve(target, registry);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => t!.client.box.getOrCreate(["race"]).hit()),
    );
    // createState ran once, and every call reached the one state it made.
    expect((await t.seen("keys.creations")).filter((k) => k === '["race"]')).toHaveLength(1);
    expect(results.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  test("concurrent create of one key: one wins, the rest get actor_already_exists", async () => {
    t = await serve(target, registry);
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () =>
        t!.client.box.create(["dup"]).then(
          () => "ok",
          (e) => e.code,
        ),
      ),
    );
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "actor_already_exists")).toHaveLength(9);
  });

  test("get, getOrCreate, create, getForId and resolve agree on one actor", async () => {
    t = await serve(target, registry);
    const created = await t.client.box.create(["one"]);
    const id = await created.resolve();
    expect(await t.client.box.get(["one"]).resolve()).toBe(id);
    expect(await t.client.box.getOrCreate(["one"]).resolve()).toBe(id);
    expect(await t.client.box.getForId(id).hit()).toBe(1);
    expect(await t.client.box.get(["one"]).hit()).toBe(2);
    // An id names an actor of one type only.
    const err = await t.client.other
      .getForId(id)
      .key()
      .catch((e) => e);
    expect(err.code).toBe("actor_not_found");
  });
});
