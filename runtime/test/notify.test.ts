// Notifications: an action message without an `id` runs like any call but gets no reply
// (PROTOCOL.md, "Client → server"), and the typed client's `conn.notify.<action>()` that sends it.
import { actor, setup, UserError } from "troupe";
import { type ActorConnMethods, type ActorError, createClient } from "troupe/client";
import { captureLogger, setupTest, type TestRuntime, waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { opened } from "./opened.js";
import { connectRaw } from "./protocol-client.js";

const counter = actor({
  state: { count: 0, by: [] as string[] },
  createConnState: (_c, params: { name?: string } | undefined): { name: string } => ({
    name: params?.name ?? "anon",
  }),
  actions: {
    add: (c, n: number) => {
      if (typeof n !== "number") throw new UserError("n must be a number", { code: "bad_input" });
      c.state.count += n;
      c.state.by.push(c.conn!.state.name);
      c.broadcast("count", c.state.count);
      return c.state.count;
    },
    addLater: async (c, n: number) => {
      await new Promise((r) => setTimeout(r, 10));
      c.state.count += n;
      return c.state.count;
    },
    get: (c) => c.state,
    broken: () => {
      throw new Error("a bug in the action");
    },
  },
});

/** Sleeps: a notification that ends without a promise must still end its activity. */
let sleeps = 0;
const tally = actor({
  state: { stored: 0 },
  createVars: () => ({ touched: 0 }),
  actions: {
    // Changes nothing in state: the path that ends inside notifyAction.
    touch: (c) => {
      c.vars.touched += 1;
    },
    store: (c, n: number) => {
      c.state.stored += n;
    },
    read: (c) => ({ touched: c.vars.touched, stored: c.state.stored }),
  },
  onSleep: () => {
    sleeps += 1;
  },
  options: { sleepTimeout: 200 },
});

const logger = captureLogger();
const registry = setup({ use: { counter, tally }, logger });

let t: TestRuntime<typeof registry> | undefined;
const conns: ActorConnMethods[] = [];
afterEach(async () => {
  await Promise.all(conns.splice(0).map((c) => c.dispose()));
  await t?.close();
  t = undefined;
  logger.clear();
});

const q = (key: string) => ({ name: "counter", key: [key], mode: "getOrCreate" });

/** The error `fn` throws; one that returns fails the test. */
function thrown(fn: () => unknown): ActorError {
  try {
    fn();
  } catch (err) {
    return err as ActorError;
  }
  throw new Error("Expected a throw");
}

describe("notifications on the wire", () => {
  test("an action without an id runs, changes state and broadcasts, and gets no reply", async () => {
    t = await setupTest(registry);
    const a = await connectRaw(t.endpoint, q("wire"), { name: "ann" });
    a.send({ t: "sub", event: "count" });
    a.send({ t: "action", name: "add", args: [2] });
    a.send({ t: "action", name: "addLater", args: [3] });
    a.send({ t: "action", name: "add", args: [4] });
    // A call with an id after them: by its reply, the notifications have run and been answered
    // if they were going to be (frames of one connection keep their order).
    await waitFor(async () => (await t!.client.counter.get(["wire"]).get()).count === 9);
    a.send({ t: "action", id: 1, name: "get", args: [] });
    const result = await a.next((m) => m.id === 1);
    expect(result.output).toEqual({ count: 9, by: ["ann", "ann"] });
    // Only the events and the one result: nothing answered the notifications.
    expect(a.messages.map((m) => m.t)).toEqual(["event", "event"]);
    expect(a.messages.map((m) => m.args[0])).toEqual([2, 6]);
    a.ws.close();
  });

  test("a failing notification is answered with an error frame without id", async () => {
    t = await setupTest(registry);
    const a = await connectRaw(t.endpoint, q("fail"));
    a.send({ t: "action", name: "add", args: ["x"] });
    expect(await a.next((m) => m.t === "error")).toEqual({
      t: "error",
      error: { code: "bad_input", message: "n must be a number" },
    });
    a.send({ t: "action", name: "nope", args: [] });
    const missing = await a.next((m) => m.t === "error");
    expect(missing.id).toBeUndefined();
    expect(missing.error.code).toBe("action_not_found");
    a.send({ t: "action", name: "add", args: 1 });
    expect((await a.next((m) => m.t === "error")).error.code).toBe("invalid_arguments");
    a.send({ t: "action", name: "broken", args: [] });
    expect((await a.next((m) => m.t === "error")).error.code).toBe("internal_error");
    expect(logger.find("error", "internal error")?.fields).toMatchObject({ action: "broken" });
    // An id that is present must still be a positive integer.
    for (const id of [0, -1, 1.5, "1", null]) {
      a.send({ t: "action", id, name: "add", args: [1] });
      const refused = await a.next((m) => m.t === "error");
      expect(refused.error.code).toBe("invalid_message");
      expect(refused.id).toBeUndefined();
    }
    // The connection is still open and nothing above changed the count.
    a.send({ t: "action", id: 2, name: "get", args: [] });
    expect((await a.next((m) => m.id === 2)).output.count).toBe(0);
    a.ws.close();
  });

  test("a flood of failing notifications closes the connection with too_many_errors", async () => {
    t = await setupTest(registry);
    const bad = await connectRaw(t.endpoint, q("flood"));
    const good = await connectRaw(t.endpoint, q("flood"));
    for (let i = 0; i < 30; i++) bad.send({ t: "action", name: "add", args: ["x"] });
    expect(await bad.closed).toEqual({ code: 1008, reason: "too_many_errors" });
    good.send({ t: "action", id: 1, name: "add", args: [1] });
    expect((await good.next((m) => m.id === 1)).output).toBe(1);
    good.ws.close();
  });
});

describe("notifications that change no state", () => {
  test("end at once, leave the actor free to sleep, and the ones that change state are stored", async () => {
    t = await setupTest(registry);
    sleeps = 0;
    const a = await connectRaw(t.endpoint, { name: "tally", key: ["k"], mode: "getOrCreate" });
    for (let i = 0; i < 50; i++) a.send({ t: "action", name: "touch", args: [] });
    a.send({ t: "action", name: "store", args: [5] });
    a.send({ t: "action", id: 1, name: "read", args: [] });
    expect((await a.next((m) => m.id === 1)).output).toEqual({ touched: 50, stored: 5 });
    expect(a.messages).toEqual([]); // no reply to any of the 51 notifications
    a.ws.close();
    // Nothing is left running: the actor sleeps once idle (the test clock moved on past its
    // sleepTimeout), and wakes with what was stored.
    await waitFor(async () => {
      await t!.clock.advance(100);
      return sleeps === 1;
    });
    expect(await t.client.tally.get(["k"]).read()).toEqual({ touched: 0, stored: 5 });
  });
});

describe("conn.notify (typed client)", () => {
  test("calls the action without a reply; false, not queued, while the connection is not open", async () => {
    t = await setupTest(registry);
    const conn = t.client.counter.getOrCreate(["typed"], { params: { name: "bo" } }).connect();
    conns.push(conn);
    expect(conn.status).toBe("idle");
    expect(conn.notify.add(100)).toBe(false);
    const counts: number[] = [];
    conn.on("count", (n: number) => counts.push(n));
    await opened(conn);
    expect(conn.notify.add(1)).toBe(true);
    expect(conn.notify.add(2)).toBe(true);
    expect(await conn.add(3)).toBe(6); // the notifications ran first, in order
    expect(await conn.get()).toEqual({ count: 6, by: ["bo", "bo", "bo"] });
    await waitFor(() => counts.length === 3);
    expect(counts).toEqual([1, 3, 6]);
    await conn.dispose();
    expect(conn.notify.add(1)).toBe(false);
  });

  test("a failure reaches onError; unsendable arguments throw", async () => {
    t = await setupTest(registry);
    const conn = t.client.counter.getOrCreate(["errors"]).connect();
    conns.push(conn);
    const errors: ActorError[] = [];
    conn.onError((e) => errors.push(e as ActorError));
    await opened(conn);
    expect(conn.notify.add("x" as unknown as number)).toBe(true);
    await waitFor(() => errors.length === 1);
    expect(errors[0]!.code).toBe("bad_input");
    expect(conn.status).toBe("connected");
    expect(thrown(() => conn.notify.add(1n as unknown as number)).code).toBe("invalid_arguments");
    const small = t.client.counter.getOrCreate(["errors"]).connect({ maxMessageSize: 128 });
    conns.push(small);
    expect(thrown(() => small.notify.add("y".repeat(200) as unknown as number)).code).toBe(
      "payload_too_large",
    );
    expect(await conn.get()).toMatchObject({ count: 0 });
  });

  test("works on the untyped client and on the in-process connections of c.client()", async () => {
    const relay = actor({
      state: {},
      actions: {
        viaNotify: async (c, key: string) => {
          const conn = c.client().counter.getOrCreate([key]).connect();
          await new Promise<void>((resolve) => conn.onOpen(resolve));
          const sent = conn.notify.add(5);
          const after = await conn.get();
          await conn.dispose();
          return { sent, count: after.count };
        },
      },
    });
    const both = setup({ use: { counter, relay }, logger });
    const rt = await setupTest(both);
    try {
      expect(await rt.client.relay.getOrCreate(["r"]).viaNotify("inproc")).toEqual({
        sent: true,
        count: 5,
      });
      const untyped = createClient(rt.endpoint);
      const conn = untyped.counter.getOrCreate(["inproc"]).connect();
      await opened(conn);
      expect(conn.notify.add(1)).toBe(true);
      expect((await conn.get()).count).toBe(6);
      await untyped.dispose();
    } finally {
      await rt.close();
    }
  });
});
