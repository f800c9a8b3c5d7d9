// `__proto__` is data like any other key: stored as a plain own property, so the state an actor
// sees in memory is exactly the state that is persisted (and that comes back after a restart),
// and no key a client chooses can reach an object's prototype, let alone Object.prototype.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { actor, setup } from "troupe";
import { captureLogger, setupTest, type TestRuntime } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { connectRaw } from "./protocol-client.js";

type Item = Record<string, unknown>;
const users = actor({
  state: { items: {} as Record<string, Item> },
  actions: {
    /** `c.state.items[userKey] = value`, with a key and a value chosen by the client. */
    put: (c, key: string, value: Item) => {
      c.state.items[key] = value;
    },
    /** The common "create if missing, then set a field" pattern. */
    setField: (c, key: string, field: string, value: unknown) => {
      c.state.items[key] ??= {};
      c.state.items[key]![field] = value;
    },
    /** A patch object from the client merged into state. */
    merge: (c, key: string, patch: Item) => {
      c.state.items[key] ??= {};
      Object.assign(c.state.items[key]!, patch);
    },
    replaceAll: (c, items: Record<string, Item>) => {
      c.state = { items };
    },
    /** What the actor's code sees in memory. */
    view: (c, key: string) => {
      const item = c.state.items[key];
      return {
        isAdmin: (item as { isAdmin?: unknown } | undefined)?.isAdmin ?? null,
        ownKeys: item ? Object.keys(item) : null,
        plainPrototype: item ? Object.getPrototypeOf(item) === Object.prototype : null,
        itemKeys: Object.keys(c.state.items),
      };
    },
    dump: (c) => c.state.items,
  },
});
const registry = () => setup({ use: { users }, logger: captureLogger() });

let dir: string;
let t: TestRuntime<ReturnType<typeof registry>> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  delete (Object.prototype as Record<string, unknown>).isAdmin; // in case a run failed
});

const q = { name: "users", key: ["org"], mode: "getOrCreate" };
async function httpCall(action: string, argsJson: string): Promise<any> {
  const res = await fetch(`${t!.endpoint}/actors/action/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: `{"actor":${JSON.stringify(q)},"args":${argsJson}}`,
  });
  return res.json();
}

async function restart(): Promise<void> {
  await t!.close();
  t = await setupTest(registry(), { storage: { driver: "file", path: dir } });
}

describe("__proto__ as a key", () => {
  test("over HTTP: an args object from JSON with __proto__ is stored as an own property", async () => {
    dir = await mkdtemp(join(tmpdir(), "troupe-proto-"));
    t = await setupTest(registry(), { storage: { driver: "file", path: dir } });
    await httpCall("put", '["user1", {"name":"eve","__proto__":{"isAdmin":true}}]');
    await httpCall("put", '["__proto__", {"isAdmin":true}]');
    const before = (await httpCall("view", '["user1"]')).output;
    expect(before).toEqual({
      isAdmin: null,
      ownKeys: ["name", "__proto__"],
      plainPrototype: true,
      itemKeys: ["user1", "__proto__"],
    });
    const dumped = (await httpCall("dump", "[]")).output;
    await restart();
    expect((await httpCall("view", '["user1"]')).output).toEqual(before);
    expect((await httpCall("dump", "[]")).output).toEqual(dumped);
    expect(JSON.stringify(dumped)).toBe(
      '{"user1":{"name":"eve","__proto__":{"isAdmin":true}},"__proto__":{"isAdmin":true}}',
    );
  });

  test("over WebSocket: assignment, set-if-missing, merge and replace keep __proto__ as data", async () => {
    dir = await mkdtemp(join(tmpdir(), "troupe-proto-"));
    t = await setupTest(registry(), { storage: { driver: "file", path: dir } });
    const conn = await connectRaw(t.endpoint, q);
    let id = 0;
    const call = async (name: string, argsJson: string) => {
      const n = ++id;
      conn.send(`{"t":"action","id":${n},"name":"${name}","args":${argsJson}}`);
      const reply = await conn.next((m) => m.id === n);
      expect(reply.error).toBeUndefined();
      return reply.output;
    };
    await call("setField", '["__proto__", "isAdmin", true]');
    expect((Object.prototype as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    await call("merge", '["user2", {"__proto__":{"isAdmin":true}}]');
    await call("put", '["user3", {"__proto__":{"isAdmin":true}}]');
    const memory = {
      proto: await call("view", '["__proto__"]'),
      user2: await call("view", '["user2"]'),
      user3: await call("view", '["user3"]'),
      all: await call("dump", "[]"),
    };
    expect(memory.user2.isAdmin).toBeNull();
    expect(memory.user2.ownKeys).toEqual(["__proto__"]);
    expect(memory.user3.isAdmin).toBeNull();
    expect(memory.proto).toMatchObject({ isAdmin: true, plainPrototype: true });
    conn.ws.close();
    await restart();
    const conn2 = await connectRaw(t.endpoint, q);
    const after = async (name: string, argsJson: string) => {
      conn2.send(`{"t":"action","id":1,"name":"${name}","args":${argsJson}}`);
      return (await conn2.next((m) => m.id === 1)).output;
    };
    expect(await after("view", '["__proto__"]')).toEqual(memory.proto);
    expect(await after("view", '["user2"]')).toEqual(memory.user2);
    expect(await after("view", '["user3"]')).toEqual(memory.user3);
    expect(await after("dump", "[]")).toEqual(memory.all);
    conn2.ws.close();
  });

  test("c.state = value with __proto__ keys, and reading a missing __proto__ gives undefined", async () => {
    t = await setupTest(registry());
    await httpCall("replaceAll", '[{"a":{"__proto__":{"isAdmin":true}}}]');
    expect((await httpCall("view", '["a"]')).output).toMatchObject({
      isAdmin: null,
      ownKeys: ["__proto__"],
    });
    // No own __proto__ yet: state behaves as plain data, not as an object with a prototype.
    expect((await httpCall("view", '["__proto__"]')).output.ownKeys).toBeNull();
  });
});
