// c.kv on every driver: text and binary values, prefixes, batches, deletes, restart.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { actor, setup } from "troupe";
import { setupTest, type TestRuntime } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";

const store = actor({
  state: {},
  actions: {
    setGreeting: async (c, userId: string, message: string) => {
      await c.kv.put(`greeting:${userId}`, message);
    },
    getGreeting: async (c, userId: string) => c.kv.get(`greeting:${userId}`),
    listGreetings: async (c) => c.kv.list("greeting:", { keyType: "text" }),
    putBytes: async (c, bytes: number[]) => {
      await c.kv.put("avatar", new Uint8Array(bytes));
      await c.kv.put("snapshot", new Uint8Array(bytes).buffer);
    },
    getBytes: async (c) => {
      const a = await c.kv.get("avatar", { type: "binary" });
      const s = await c.kv.get("snapshot", { type: "binary" });
      return [a ? [...a] : null, s ? [...s] : null];
    },
    batch: async (c) => {
      await c.kv.putBatch([
        ["alpha", "1"],
        ["beta", "2"],
      ]);
      return c.kv.getBatch(["alpha", "beta", "gamma"]);
    },
    remove: async (c, key: string) => {
      await c.kv.delete(key);
      return c.kv.get(key);
    },
    unawaited: async (c) => {
      void c.kv.put("fast", "yes");
      return c.kv.get("fast");
    },
    listLimited: async (c) => ({
      first: await c.kv.list("greeting:", { limit: 2 }),
      last: await c.kv.list("greeting:", { limit: 1, reverse: true }),
    }),
  },
});

const registry = setup({ use: { store } });
let t: TestRuntime<typeof registry>;
afterEach(() => t?.close());

for (const storage of ["memory", "file"] as const) {
  describe(`c.kv (${storage})`, () => {
    let dir = "";
    const start = async () => {
      if (storage === "file") dir = await mkdtemp(join(tmpdir(), "troupe-kv-"));
      return setupTest(registry, {
        storage: storage === "file" ? { driver: "file", path: dir } : "memory",
      });
    };
    afterEach(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
      dir = "";
    });

    test("text values by string key, listed by prefix with the prefix removed", async () => {
      t = await start();
      const h = t.client.store.getOrCreate(["kv"]);
      await h.setGreeting("bob", "hi bob");
      await h.setGreeting("amy", "hi amy");
      expect(await h.getGreeting("bob")).toBe("hi bob");
      expect(await h.getGreeting("nobody")).toBeNull();
      expect(await h.listGreetings()).toEqual([
        ["amy", "hi amy"],
        ["bob", "hi bob"],
      ]);
      expect(await h.listLimited()).toEqual({
        first: [
          ["amy", "hi amy"],
          ["bob", "hi bob"],
        ],
        last: [["bob", "hi bob"]],
      });
    });

    test("binary values from Uint8Array and ArrayBuffer", async () => {
      t = await start();
      const h = t.client.store.getOrCreate(["bin"]);
      await h.putBytes([0, 1, 255, 128]);
      expect(await h.getBytes()).toEqual([
        [0, 1, 255, 128],
        [0, 1, 255, 128],
      ]);
    });

    test("batches, deletes and read-your-writes", async () => {
      t = await start();
      const h = t.client.store.getOrCreate(["b"]);
      expect(await h.batch()).toEqual(["1", "2", null]);
      expect(await h.remove("alpha")).toBeNull();
      expect(await h.unawaited()).toBe("yes");
    });

    test("KV entries belong to one actor", async () => {
      t = await start();
      await t.client.store.getOrCreate(["one"]).setGreeting("x", "one's");
      expect(await t.client.store.getOrCreate(["two"]).getGreeting("x")).toBeNull();
    });

    if (storage === "file") {
      test("KV survives a restart", async () => {
        t = await start();
        await t.client.store.getOrCreate(["r"]).setGreeting("z", "still here");
        await t.close();
        t = await setupTest(registry, { storage: { driver: "file", path: dir } });
        expect(await t.client.store.get(["r"]).getGreeting("z")).toBe("still here");
      });
    }
  });
}
