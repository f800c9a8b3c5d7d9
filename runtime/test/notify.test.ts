// Notifications: an action message without an `id` runs like any call but gets no reply
// (PROTOCOL.md, "Client → server"), and the typed client's `conn.notify.<action>()` that sends it.
// On Node and on workerd.
import { type ActorConnMethods, type ActorError, createClient } from "troupe/client";
import { captureLogger, waitFor } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { notifyRegistry, SLEEPS } from "./fixtures/suites/notify.js";
import { opened } from "./opened.js";
import { connectRaw } from "./protocol-client.js";
import { loggedOn, type Served, serve, TARGETS } from "./spec-targets.js";

/** How long a raw client waits for a frame (a Durable Object's first wake is slow when busy). */
const FRAME_WAIT = 60_000;
const SLOW = { timeout: 60_000, interval: 50 };

const logger = captureLogger();
const registry = notifyRegistry(logger);
let t: Served<typeof registry> | undefined;
const conns: ActorConnMethods[] = [];
beforeEach(() => logger.clear());
afterEach(async () => {
  await Promise.all(conns.splice(0).map((c) => c.dispose()));
  await t?.close();
  t = undefined;
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

// On workerd the actors outlive a test (one process per file): each test uses keys of its own.
describe.each(TARGETS)("notifications on %s", (target) => {
  test("on the wire: an action without an id runs, changes state and broadcasts, and gets no reply", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
    const a = await connectRaw(t.endpoint, q("wire"), { name: "ann" });
    a.send({ t: "sub", event: "count" });
    a.send({ t: "action", name: "add", args: [2] });
    a.send({ t: "action", name: "addLater", args: [3] });
    a.send({ t: "action", name: "add", args: [4] });
    // A call with an id after them: by its reply, the notifications have run and been answered
    // if they were going to be (frames of one connection keep their order).
    await waitFor(async () => (await t!.client.counter.get(["wire"]).get()).count === 9, SLOW);
    a.send({ t: "action", id: 1, name: "get", args: [] });
    const result = await a.next((m) => m.id === 1, FRAME_WAIT);
    expect(result.output).toEqual({ count: 9, by: ["ann", "ann"] });
    // Only the events and the one result: nothing answered the notifications.
    expect(a.messages.map((m) => m.t)).toEqual(["event", "event"]);
    expect(a.messages.map((m) => m.args[0])).toEqual([2, 6]);
    a.ws.close();
  });

  test("on the wire: a failing notification is answered with an error frame without id", async () => {
    t = await serve(target, registry);
    const a = await connectRaw(t.endpoint, q("fail"));
    const nextError = () => a.next((m) => m.t === "error", FRAME_WAIT);
    a.send({ t: "action", name: "add", args: ["x"] });
    expect(await nextError()).toEqual({
      t: "error",
      error: { code: "bad_input", message: "n must be a number" },
    });
    a.send({ t: "action", name: "nope", args: [] });
    const missing = await nextError();
    expect(missing.id).toBeUndefined();
    expect(missing.error.code).toBe("action_not_found");
    a.send({ t: "action", name: "add", args: 1 });
    expect((await nextError()).error.code).toBe("invalid_arguments");
    a.send({ t: "action", name: "broken", args: [] });
    expect((await nextError()).error.code).toBe("internal_error");
    const broken = () =>
      loggedOn(t!, logger, ["action"], (l) => l.level === "error" && l.action === "broken");
    // workerd's output reaches this process through a pipe, maybe after the frame.
    await waitFor(() => broken().length > 0, { ...SLOW, what: "the log line" });
    expect(broken()[0]).toMatchObject({ message: "internal error", error: "a bug in the action" });
    // An id that is present must still be a positive integer.
    for (const id of [0, -1, 1.5, "1", null]) {
      a.send({ t: "action", id, name: "add", args: [1] });
      const refused = await nextError();
      expect(refused.error.code).toBe("invalid_message");
      expect(refused.id).toBeUndefined();
    }
    // The connection is still open and nothing above changed the count.
    a.send({ t: "action", id: 2, name: "get", args: [] });
    expect((await a.next((m) => m.id === 2, FRAME_WAIT)).output.count).toBe(0);
    a.ws.close();
  });

  test("on the wire: a flood of failing notifications closes the connection with too_many_errors", async () => {
    t = await serve(target, registry);
    const bad = await connectRaw(t.endpoint, q("flood"));
    const good = await connectRaw(t.endpoint, q("flood"));
    for (let i = 0; i < 30; i++) bad.send({ t: "action", name: "add", args: ["x"] });
    expect(await bad.closed).toEqual({ code: 1008, reason: "too_many_errors" });
    good.send({ t: "action", id: 1, name: "add", args: [1] });
    expect((await good.next((m) => m.id === 1, FRAME_WAIT)).output).toBe(1);
    good.ws.close();
  });

  test("notifications that change no state end at once, leave the actor free to sleep, and the ones that change state are stored", async () => {
    t = await serve(target, registry);
    await t.clearSeen(SLEEPS);
    const a = await connectRaw(t.endpoint, { name: "tally", key: ["k"], mode: "getOrCreate" });
    for (let i = 0; i < 50; i++) a.send({ t: "action", name: "touch", args: [] });
    a.send({ t: "action", name: "store", args: [5] });
    a.send({ t: "action", id: 1, name: "read", args: [] });
    expect((await a.next((m) => m.id === 1, FRAME_WAIT)).output).toEqual({
      touched: 50,
      stored: 5,
    });
    expect(a.messages).toEqual([]); // no reply to any of the 51 notifications
    a.ws.close();
    // Nothing is left running: the actor sleeps once idle (Node: the test clock moves on past
    // its sleepTimeout; workerd: the object's timer, in real time), and wakes with what was
    // stored.
    await waitFor(
      async () => {
        await t!.clock?.advance(100);
        return (await t!.seen(SLEEPS)).length === 1;
      },
      { ...SLOW, what: "the tally to sleep" },
    );
    expect(await t.client.tally.get(["k"]).read()).toEqual({ touched: 0, stored: 5 });
  });

  test("conn.notify calls the action without a reply; false, not queued, while the connection is not open", async () => {
    t = await serve(target, registry);
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
    await waitFor(() => counts.length === 3, SLOW);
    expect(counts).toEqual([1, 3, 6]);
    await conn.dispose();
    expect(conn.notify.add(1)).toBe(false);
  });

  test("conn.notify: a failure reaches onError; unsendable arguments throw", async () => {
    t = await serve(target, registry);
    const conn = t.client.counter.getOrCreate(["errors"]).connect();
    conns.push(conn);
    const errors: ActorError[] = [];
    conn.onError((e) => errors.push(e as ActorError));
    await opened(conn);
    expect(conn.notify.add("x" as unknown as number)).toBe(true);
    await waitFor(() => errors.length === 1, SLOW);
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

  test("conn.notify works on the untyped client and on the in-process connections of c.client()", async () => {
    t = await serve(target, registry);
    expect(await t.client.relay.getOrCreate(["r"]).viaNotify("inproc")).toEqual({
      sent: true,
      count: 5,
    });
    const untyped = createClient(t.endpoint);
    try {
      const conn = untyped.counter.getOrCreate(["inproc"]).connect();
      await opened(conn);
      expect(conn.notify.add(1)).toBe(true);
      expect((await conn.get()).count).toBe(6);
    } finally {
      await untyped.dispose();
    }
  });
});
