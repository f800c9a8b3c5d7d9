// troupe/cloudflare on workerd, Cloudflare's open-source Workers runtime: the fixture Worker
// (fixtures/cloudflare/worker.ts) is bundled, served by a real workerd process with its Durable
// Objects on local disk, and driven through troupe/client with only the endpoint changed.
// Restarts are real process restarts on the same data directory.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ActorError, type Client, createClient } from "troupe/client";
import { type RunningWorkerd, startWorkerd } from "troupe/cloudflare/local";
import { freePort, waitFor } from "troupe/test";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import type { registry } from "./fixtures/cloudflare/worker.js";
import { loggedText } from "./logged.js";

const ENTRY = join(import.meta.dirname, "fixtures/cloudflare/worker.ts");
// The machine is shared and noisy: workerd's start and the first Durable Object take a while.
const SLOW = { timeout: 60_000, interval: 100 };

let dataDir: string;
let worker: RunningWorkerd;
let client: Client<typeof registry>;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "troupe-cf-test-"));
  // One port for the life of the file, so that a client's connection can find workerd again
  // after a restart.
  worker = await startWorkerd({ entry: ENTRY, dataDir, port: await freePort() });
  client = createClient<typeof registry>(`${worker.url}/api/troupe`);
}, 120_000);

afterAll(async () => {
  await client?.dispose();
  await worker?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Restarts workerd (a new process on the same data) and points the client at its new port. */
async function restart(kill = false): Promise<void> {
  await client.dispose();
  if (kill) {
    await worker.kill();
    await worker.restart();
  } else await worker.restart();
  client = createClient<typeof registry>(`${worker.url}/api/troupe`);
}

function failure(call: Promise<unknown>): Promise<ActorError> {
  return call.then(
    (value) => {
      throw new Error(`Expected the call to fail, it returned ${JSON.stringify(value)}`);
    },
    (err) => err as ActorError,
  );
}

describe("troupe/cloudflare on workerd", () => {
  test("metadata lists the registry's actors", async () => {
    const res = await fetch(`${worker.url}/api/troupe/metadata`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      runtime: "troupe",
      version: 1,
      actorNames: ["counter", "room", "vault", "flaky"],
    });
  });

  test("actions keep state per key; keys that only differ in where they split stay apart", async () => {
    const a = client.counter.getOrCreate(["a/b", "c"]);
    const b = client.counter.getOrCreate(["a", "b/c"]);
    expect(await a.increment(2)).toBe(2);
    expect(await a.increment(3)).toBe(5);
    expect(await b.increment(1)).toBe(1);
    expect(await a.getCount()).toBe(5);
    const ida = await a.resolve();
    const idb = await b.resolve();
    expect(ida).not.toBe(idb);
    expect(await client.counter.getForId(ida).getCount()).toBe(5);
  });

  test("the app's own calls pass hooks that refuse outside callers; the mark cannot be forged", async () => {
    // From outside: refused by onBeforeCreate, and by onBeforeConnect on a connection.
    const outside = await failure(client.vault.getOrCreate(["v"]).peek());
    expect(outside.code).toBe("internal_actor");
    // The Worker's client (env.TROUPE) and c.client() from another actor (actions; connections
    // pass onBeforeConnect as on Node).
    const viaWorker = await fetch(`${worker.url}/vault/v`);
    expect(await viaWorker.json()).toBe("gold");
    expect(await client.counter.getOrCreate(["vault-reader"]).peekVault("v")).toBe("gold");
    const stillOutside = await failure(client.vault.getOrCreate(["v"]).peek());
    expect(stillOutside.code).toBe("internal_actor");
    // A request from outside that carries the Worker's internal mark is refused as such.
    const forged = await fetch(`${worker.url}/api/troupe/actors/action/peek`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-troupe-internal": "1" },
      body: JSON.stringify({ actor: { name: "vault", key: ["v"], mode: "get" }, args: [] }),
    });
    expect(forged.status).toBe(400);
    expect((await forged.json()).error.code).toBe("invalid_request");
  });

  test("get, create and ids answer as on Node", async () => {
    const missing = await failure(client.counter.get(["never-made"]).getCount());
    expect(missing.code).toBe("actor_not_found");
    const made = await client.counter.create(["made-once"]);
    expect(await made.increment(7)).toBe(7);
    const twice = await failure(client.counter.create(["made-once"]));
    expect(twice.code).toBe("actor_already_exists");
    const forged = await failure(client.counter.getForId("0".repeat(64)).getCount());
    expect(forged.code).toBe("actor_not_found");
    const garbage = await failure(client.counter.getForId("not-an-id").getCount());
    expect(garbage.code).toBe("actor_not_found");
    const unknownAction = await failure((client.counter.getOrCreate(["made-once"]) as any).nope());
    expect(unknownAction.code).toBe("action_not_found");
    const res = await fetch(`${worker.url}/api/troupe/actors/action/getCount`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ actor: { name: "nobody", key: [], mode: "getOrCreate" }, args: [] }),
    });
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe("unknown_actor_type");
  });

  test("a destroyed key comes back as a new actor with a new id", async () => {
    const handle = client.counter.getOrCreate(["phoenix"]);
    await handle.increment(4);
    const first = await handle.resolve();
    await handle.destroy();
    await waitFor(
      async () =>
        (await failure(client.counter.getForId(first).getCount())).code === "actor_not_found",
      { ...SLOW, what: "the destroyed actor to be gone" },
    );
    const again = client.counter.getOrCreate(["phoenix"]);
    expect(await again.getCount()).toBe(0);
    expect(await again.resolve()).not.toBe(first);
  });

  test("KV entries live in the Durable Object's storage", async () => {
    const handle = client.counter.getOrCreate(["kv"]);
    await handle.kvPut("user/1", "ada");
    await handle.kvPut("user/2", "bo");
    await handle.kvPut("other", "x");
    expect(await handle.kvGet("user/1")).toBe("ada");
    expect(await handle.kvGet("missing")).toBeNull();
    expect(await handle.kvList("user/")).toEqual(["1=ada", "2=bo"]);
  });

  test("events reach two connections", async () => {
    const handle = client.counter.getOrCreate(["events"]);
    const one = handle.connect();
    const two = handle.connect();
    const seen: [number[], number[]] = [[], []];
    one.on("newCount", (n: number) => seen[0].push(n));
    two.on("newCount", (n: number) => seen[1].push(n));
    await waitFor(() => one.status === "connected" && two.status === "connected", {
      ...SLOW,
      what: "both connections",
    });
    expect(await one.increment(5)).toBe(5);
    expect(await handle.increment(1)).toBe(6);
    await waitFor(() => seen[0].length === 2 && seen[1].length === 2, {
      ...SLOW,
      what: "both events on both connections",
    });
    expect(seen).toEqual([
      [5, 6],
      [5, 6],
    ]);
    await one.dispose();
    await two.dispose();
  });

  test("a connection with a bad init is refused with the protocol's error frame", async () => {
    const ws = new WebSocket(`${worker.url.replace("http", "ws")}/api/troupe/actors/connect`);
    const frames: string[] = [];
    ws.on("message", (data) => frames.push(String(data)));
    await new Promise((r) => ws.once("open", r));
    ws.send(JSON.stringify({ t: "init", actor: { name: "nobody", key: [] } }));
    const code = await new Promise<number>((r) => ws.once("close", r));
    expect(code).toBe(4001);
    expect(JSON.parse(frames[0]!).error.code).toBe("unknown_actor_type");
  });

  test("c.client() reaches other actors through the namespace", async () => {
    const caller = client.counter.getOrCreate(["caller"]);
    expect(await caller.incrementOther("callee", 3)).toBe(3);
    expect(await caller.incrementOther("callee", 3)).toBe(6);
    expect(await client.counter.getOrCreate(["callee"]).getCount()).toBe(6);
    expect(await caller.getCount()).toBe(0);
  });

  test("c.client() opens connections and raw WebSockets from one actor to another", async () => {
    await client.counter.getOrCreate(["watched"]).increment(1);
    const caller = client.counter.getOrCreate(["watcher"]);
    expect(await caller.incrementOverConnection("watched", 2)).toEqual({
      count: 3,
      events: [3],
      status: "connected",
    });
    expect(await caller.incrementOverConnection("watched", 4)).toEqual({
      count: 7,
      events: [7],
      status: "connected",
    });
    expect(await client.counter.getOrCreate(["watched"]).getCount()).toBe(7);
    expect(await caller.echoOther("watched", "hi")).toBe("/from-actor hi 7");
  });

  test("the Worker's own routes get a client in env.TROUPE; onRequest is reachable", async () => {
    const res = await fetch(`${worker.url}/increment/from-worker`, { method: "POST" });
    expect(await res.json()).toEqual({ count: 1 });
    expect(await client.counter.getOrCreate(["from-worker"]).getCount()).toBe(1);
    const raw = await client.counter.getOrCreate(["from-worker"]).fetch("/hello?x=1");
    expect(await raw.json()).toEqual({ path: "/hello", count: 1 });
    expect((await fetch(`${worker.url}/elsewhere`)).status).toBe(404);
  });

  test("raw WebSockets reach onWebSocket", async () => {
    const handle = client.counter.getOrCreate(["raw-socket"]);
    await handle.increment(3);
    const socket = await handle.webSocket("/echo");
    const reply = new Promise<string>((resolve) =>
      socket.addEventListener("message", (event: { data: unknown }) => resolve(String(event.data))),
    );
    socket.send("ping");
    expect(await reply).toBe("/echo ping 3");
    socket.close();
  });

  test("a schedule fires on the Durable Object alarm", async () => {
    const handle = client.counter.getOrCreate(["alarm-live"]);
    await handle.incrementLater(200, 10, "soon");
    await waitFor(async () => (await handle.getCount()) === 10, {
      ...SLOW,
      what: "the scheduled increment",
    });
    expect(await handle.fired()).toEqual(["soon"]);
    expect(await handle.pending()).toBe(0);
  });

  test("state and a pending alarm survive a workerd restart; a new connection gets events", async () => {
    const handle = client.counter.getOrCreate(["durable"]);
    expect(await handle.increment(41)).toBe(41);
    // Far enough out that it is still pending when the new process starts.
    expect(await handle.incrementLater(4000, 1, "after-restart")).toBe(1);
    await restart();
    const again = client.counter.getOrCreate(["durable"]);
    const conn = again.connect();
    const counts: number[] = [];
    conn.on("newCount", (n: number) => counts.push(n));
    expect(await again.getCount()).toBeGreaterThanOrEqual(41);
    await waitFor(async () => (await again.fired()).includes("after-restart"), {
      ...SLOW,
      what: "the alarm set before the restart",
    });
    expect(await again.getCount()).toBe(42);
    expect(await again.pending()).toBe(0);
    await waitFor(() => conn.status === "connected", { ...SLOW, what: "the connection" });
    await again.increment(1);
    await waitFor(() => counts.includes(43), { ...SLOW, what: "an event after the restart" });
    await conn.dispose();
  });

  test("one alarm multiplexes an actor's schedule: entries fire in time order, across a restart", {
    timeout: 120_000,
  }, async () => {
    const handle = client.counter.getOrCreate(["multiplex"]);
    // Scheduled out of time order, so the one Durable Object alarm moves earlier and later.
    expect(
      await handle.scheduleMany([
        [9000, "third"],
        [300, "first"],
        [6000, "second"],
      ]),
    ).toBe(3);
    await waitFor(async () => (await handle.fired()).length > 0, {
      ...SLOW,
      what: "the first entry",
    });
    // The others are seconds away: still pending when workerd stops.
    expect(await handle.fired()).toEqual(["first"]);
    expect(await handle.pending()).toBe(2);
    await restart();
    const again = client.counter.getOrCreate(["multiplex"]);
    await waitFor(async () => (await again.fired()).length === 3, {
      ...SLOW,
      what: "the two entries set before the restart",
    });
    expect(await again.fired()).toEqual(["first", "second", "third"]);
    expect(await again.pending()).toBe(0);
  });

  test("an alarm whose actor cannot be woken is tried again until it runs, past the platform's own retries", {
    timeout: 120_000,
  }, async () => {
    // Cloudflare retries a throwing alarm() at most six times (from 2 s, doubling): seven failed
    // wakes would drop the schedule there. The runtime re-arms the alarm itself instead.
    const handle = client.flaky.getOrCreate(["wake"]);
    await handle.noteWhileAsleep(200, "ran", 7);
    // Nothing may call the actor meanwhile (a call would wake it and use up a failure): the
    // Worker's log says how the alarm is doing.
    const retries = () =>
      loggedText(worker.output()).filter((line) =>
        line.message.startsWith("could not run an alarm"),
      );
    await waitFor(() => retries().length >= 7, { ...SLOW, what: "seven failed alarm runs" });
    await waitFor(async () => (await handle.notes()).includes("ran"), {
      ...SLOW,
      what: "the scheduled action after seven failed wakes",
    });
    expect(await handle.notes()).toEqual(["ran"]);
    expect(await handle.wakeFailuresLeft()).toBe(0);
    expect(retries()).toEqual(
      Array.from({ length: 7 }, (_, i) => ({
        level: "error",
        message: "could not run an alarm; retrying in 1 s",
        error: `wake refused (${6 - i} more to go)`,
      })),
    );
  });

  test("a connection reconnects by itself across a workerd restart, with its subscriptions", {
    timeout: 120_000,
  }, async () => {
    const own = createClient<typeof registry>(`${worker.url}/api/troupe`);
    try {
      const conn = own.counter
        .getOrCreate(["reconnects"])
        .connect({ reconnectInitialDelay: 50, reconnectMaxDelay: 500 });
      const counts: number[] = [];
      conn.on("newCount", (n: number) => counts.push(n));
      const statuses: string[] = [];
      conn.onStatusChange((s) => statuses.push(s));
      const errors: string[] = [];
      conn.onError((e) => errors.push(e.code));
      expect(await conn.increment(1)).toBe(1);
      await restart();
      // Sent while the connection finds its way back: it waits for it, then runs.
      expect(await conn.increment(10)).toBe(11);
      await waitFor(() => counts.includes(11), { ...SLOW, what: "an event after the restart" });
      expect(counts).toEqual([1, 11]);
      expect(statuses).toEqual(["connecting", "connected", "connecting", "connected"]);
      expect(errors).toEqual(["network_error"]); // once per outage, as on Node
    } finally {
      await own.dispose();
    }
  });

  test("an alarm whose time passed while workerd was down fires when it is back", async () => {
    const handle = client.counter.getOrCreate(["missed"]);
    await handle.incrementLater(500, 5, "while-down");
    await worker.kill();
    await new Promise((r) => setTimeout(r, 1500));
    await restart();
    const again = client.counter.getOrCreate(["missed"]);
    await waitFor(async () => (await again.fired()).includes("while-down"), {
      ...SLOW,
      what: "the alarm that came due while workerd was down",
    });
    expect(await again.getCount()).toBe(5);
  });

  test("connections stay open while the Durable Object is evicted (WebSocket Hibernation)", async () => {
    const room = client.room.getOrCreate(["hibernate"]);
    const ada = client.room.getOrCreate(["hibernate"], { params: { name: "ada" } }).connect();
    const bo = client.room.getOrCreate(["hibernate"], { params: { name: "bo" } }).connect();
    const heard: string[] = [];
    bo.on("message", (line: string) => heard.push(line));
    const drops: string[] = [];
    for (const conn of [ada, bo]) conn.onClose((e) => drops.push(`${e.code}`));
    await waitFor(() => ada.status === "connected" && bo.status === "connected", {
      ...SLOW,
      what: "both connections",
    });
    expect(await ada.say("hello")).toBe(1);
    await waitFor(() => heard.includes("ada: hello"), { ...SLOW, what: "the first event" });
    const before = await ada.instance();
    // workerd evicts an object after ~10 s without events; nothing may reach it meanwhile, so
    // this waits in silence, then asks whether a new instance answers (up to a few tries).
    let after = before;
    for (let i = 0; i < 6 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 13_000));
      after = await ada.instance();
    }
    expect(after).not.toBe(before);
    // Same sockets: no close, no reconnect; the connection state and subscriptions came back.
    expect(drops).toEqual([]);
    expect(ada.status).toBe("connected");
    expect(await ada.say("still here")).toBe(2);
    await waitFor(() => heard.includes("ada: still here"), { ...SLOW, what: "the event" });
    expect(await room.connections()).toBe(2);
    await ada.dispose();
    await waitFor(async () => (await room.connections()) === 1, { ...SLOW, what: "ada gone" });
    await bo.dispose();
  }, 120_000);
});
