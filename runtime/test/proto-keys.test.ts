// `__proto__` is data like any other key: stored as a plain own property, so the state an actor
// sees in memory is exactly the state that is persisted (and that comes back after a restart),
// and no key a client chooses can reach an object's prototype, let alone Object.prototype. On
// Node (file storage, restarted) and on workerd (the Durable Object's SQLite, workerd restarted).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { captureLogger } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { protoKeysRegistry } from "./fixtures/suites/proto-keys.js";
import { connectRaw } from "./protocol-client.js";
import { type Served, serve, TARGETS, type TargetName } from "./spec-targets.js";

const FRAME_WAIT = 60_000;
const registry = protoKeysRegistry(captureLogger());

let dir: string | undefined;
let t: Served<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
  delete (Object.prototype as Record<string, unknown>).isAdmin; // in case a run failed
});

/** Serves the registry on storage that survives `t.restart()` (Node: the file driver). */
async function start(target: TargetName): Promise<Served<typeof registry>> {
  if (target === "node") {
    dir = await mkdtemp(join(tmpdir(), "troupe-proto-"));
    t = await serve(target, registry, { storage: { driver: "file", path: dir } });
  } else t = await serve(target, registry);
  return t;
}

const q = (key: string) => ({ name: "users", key: [key], mode: "getOrCreate" });
async function httpCall(key: string, action: string, argsJson: string): Promise<any> {
  const res = await fetch(`${t!.endpoint}/actors/action/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: `{"actor":${JSON.stringify(q(key))},"args":${argsJson}}`,
  });
  return res.json();
}

// On workerd the actors outlive a test (one process per file): each test uses a key of its own.
describe.each(TARGETS)("__proto__ as a key on %s", (target) => {
  test("over HTTP: an args object from JSON with __proto__ is stored as an own property", {
    timeout: 120_000,
  }, async () => {
    await start(target);
    const call = (action: string, argsJson: string) => httpCall("http", action, argsJson);
    await call("put", '["user1", {"name":"eve","__proto__":{"isAdmin":true}}]');
    await call("put", '["__proto__", {"isAdmin":true}]');
    const before = (await call("view", '["user1"]')).output;
    expect(before).toEqual({
      isAdmin: null,
      ownKeys: ["name", "__proto__"],
      plainPrototype: true,
      itemKeys: ["user1", "__proto__"],
    });
    const dumped = (await call("dump", "[]")).output;
    await t!.restart();
    expect((await call("view", '["user1"]')).output).toEqual(before);
    expect((await call("dump", "[]")).output).toEqual(dumped);
    expect(JSON.stringify(dumped)).toBe(
      '{"user1":{"name":"eve","__proto__":{"isAdmin":true}},"__proto__":{"isAdmin":true}}',
    );
    expect((await call("prototypePolluted", "[]")).output).toBe(false);
  });

  test("over WebSocket: assignment, set-if-missing, merge and replace keep __proto__ as data", {
    timeout: 120_000,
  }, async () => {
    await start(target);
    const conn = await connectRaw(t!.endpoint, q("ws"));
    let id = 0;
    const call = async (name: string, argsJson: string) => {
      const n = ++id;
      conn.send(`{"t":"action","id":${n},"name":"${name}","args":${argsJson}}`);
      const reply = await conn.next((m) => m.id === n, FRAME_WAIT);
      expect(reply.error).toBeUndefined();
      return reply.output;
    };
    await call("setField", '["__proto__", "isAdmin", true]');
    expect(await call("prototypePolluted", "[]")).toBe(false);
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
    expect(await call("prototypePolluted", "[]")).toBe(false);
    conn.ws.close();
    await t!.restart();
    const conn2 = await connectRaw(t!.endpoint, q("ws"));
    const after = async (name: string, argsJson: string) => {
      conn2.send(`{"t":"action","id":1,"name":"${name}","args":${argsJson}}`);
      return (await conn2.next((m) => m.id === 1, FRAME_WAIT)).output;
    };
    expect(await after("view", '["__proto__"]')).toEqual(memory.proto);
    expect(await after("view", '["user2"]')).toEqual(memory.user2);
    expect(await after("view", '["user3"]')).toEqual(memory.user3);
    expect(await after("dump", "[]")).toEqual(memory.all);
    conn2.ws.close();
  });

  test("c.state = value with __proto__ keys, and reading a missing __proto__ gives undefined", async () => {
    await start(target);
    const call = (action: string, argsJson: string) => httpCall("replace", action, argsJson);
    await call("replaceAll", '[{"a":{"__proto__":{"isAdmin":true}}}]');
    expect((await call("view", '["a"]')).output).toMatchObject({
      isAdmin: null,
      ownKeys: ["__proto__"],
    });
    // No own __proto__ yet: state behaves as plain data, not as an object with a prototype.
    expect((await call("view", '["__proto__"]')).output.ownKeys).toBeNull();
  });
});
