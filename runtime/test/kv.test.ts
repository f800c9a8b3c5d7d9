// c.kv on every driver and on workerd (the Durable Object's SQLite): text and binary values,
// prefixes, batches, deletes, restart.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { kvRegistry } from "./fixtures/spec-examples/actors.js";
import { type Served, serve } from "./spec-targets.js";

const registry = kvRegistry();
let t: Served<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

for (const storage of ["memory", "file", "workerd"] as const) {
  describe(`c.kv (${storage})`, () => {
    let dir = "";
    const start = async () => {
      if (storage === "workerd") return serve("workerd", registry);
      if (storage === "file") dir = await mkdtemp(join(tmpdir(), "troupe-kv-"));
      return serve("node", registry, {
        storage: storage === "file" ? { driver: "file", path: dir } : "memory",
      });
    };
    afterEach(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
      dir = "";
    });

    test("text values by string key, listed by prefix with the prefix removed", {
      timeout: 120_000,
    }, async () => {
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
        t = await serve("node", registry, { storage: { driver: "file", path: dir } });
        expect(await t.client.store.get(["r"]).getGreeting("z")).toBe("still here");
      });
    }
  });
}
