// The server side of connections, driven with a raw protocol client over real sockets, on Node
// and on workerd (where the Worker relays each socket to the actor's Durable Object).
import { captureLogger, setupTest, waitFor } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { connectionsOf, connectionsRegistry } from "./fixtures/suites/connections.js";
import { recorded } from "./fixtures/suites/seen.js";
import { logged } from "./logged.js";
import { connectRaw, openRaw, type RawConn } from "./protocol-client.js";
import { nodeOnly, type Served, serve, TARGETS } from "./spec-targets.js";

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));
const SLOW = { timeout: 60_000, interval: 50 };
/** How long a raw client waits for a frame (a Durable Object's first wake is slow when busy). */
const FRAME_WAIT = 60_000;

const logger = captureLogger();
const registry = connectionsRegistry(logger);
let t: Served<typeof registry> | undefined;
beforeEach(() => logger.clear());
afterEach(async () => {
  await t?.close();
  t = undefined;
});
const q = (key: string) => ({ name: "room", key: [key], mode: "getOrCreate" });

/** A round trip on `c`: the frames sent on it before have been handled by the actor. */
async function synced(c: RawConn, id: number): Promise<void> {
  c.send({ t: "action", id, name: "echo", args: [id] });
  await c.next((m) => m.id === id, FRAME_WAIT);
}

// On workerd the actors outlive a test (one process per file): each test uses rooms of its own.
describe.each(TARGETS)("connections (server side) on %s", (target) => {
  test("connect runs the hooks, c.conn carries params and state, actions are matched by id", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
    const log = () => t!.seen(connectionsOf(["hooks"]));
    const a = await connectRaw(t.endpoint, q("hooks"), { token: "good", name: "ann" });
    expect(await log()).toEqual(["connect:ann"]);
    a.send({ t: "action", id: 1, name: "whoAmI", args: [] });
    expect((await a.next((m) => m.id === 1, FRAME_WAIT)).output).toEqual({
      name: "ann",
      params: { token: "good", name: "ann" },
      conns: 1,
    });
    // Many in flight, answered out of order, matched by id.
    for (let i = 2; i < 40; i++)
      a.send({ t: "action", id: i, name: "slow", args: [(40 - i) * 2, i] });
    const results = await Promise.all(
      Array.from({ length: 38 }, (_, k) => a.next((m) => m.id === k + 2, FRAME_WAIT)),
    );
    expect(results.map((r) => r.output)).toEqual(Array.from({ length: 38 }, (_, k) => k + 2));
    a.ws.close();
    await waitFor(async () => (await log()).length === 2, { ...SLOW, what: "onDisconnect" });
    expect(await log()).toEqual(["connect:ann", "disconnect:ann"]);
  });

  test("a refused connect shows the UserError's code and closes with 4001", async () => {
    t = await serve(target, registry);
    const c = await openRaw(t.endpoint);
    c.send({ t: "init", actor: q("refused"), params: { token: "bad" } });
    const err = await c.next((m) => m.t === "error", FRAME_WAIT);
    expect(err.error).toEqual({
      code: "forbidden",
      message: "Invalid token",
      metadata: { hint: "sign in" },
    });
    expect(await c.closed).toEqual({ code: 4001, reason: "forbidden" });
  });

  test("onBeforeConnect/createConnState see the upgrade request (origin check)", async () => {
    t = await serve(target, registry);
    const c = await openRaw(t.endpoint, { headers: { origin: "https://evil.example" } });
    c.send({ t: "init", actor: q("origin"), params: { token: "good" } });
    expect((await c.next((m) => m.t === "error", FRAME_WAIT)).error.code).toBe(
      "origin_not_allowed",
    );
    const ok = await connectRaw(
      t.endpoint,
      q("origin"),
      { token: "good" },
      { headers: { origin: "https://app.example" } },
    );
    ok.ws.close();
  });

  test("broadcast reaches only subscribed connections; conn.send reaches one", async () => {
    t = await serve(target, registry);
    const a = await connectRaw(t.endpoint, q("subs"), { token: "good", name: "ann" });
    const b = await connectRaw(t.endpoint, q("subs"), { token: "good", name: "bob" });
    const other = await connectRaw(t.endpoint, q("subs-other"), { token: "good", name: "eve" });
    a.send({ t: "sub", event: "said" });
    other.send({ t: "sub", event: "said" });
    await synced(a, 100);
    await synced(other, 100);
    b.send({ t: "action", id: 1, name: "say", args: ["hello"] });
    await b.next((m) => m.id === 1, FRAME_WAIT);
    expect((await a.next((m) => m.t === "event", FRAME_WAIT)).args).toEqual(["bob", "hello"]);
    // b's own events would precede its reply; other's would precede a round trip on it.
    await synced(other, 101);
    expect(b.messages.filter((m) => m.t === "event")).toEqual([]); // not subscribed
    expect(other.messages.filter((m) => m.t === "event")).toEqual([]); // another actor
    a.send({ t: "unsub", event: "said" });
    await synced(a, 101);
    b.send({ t: "action", id: 2, name: "say", args: ["again"] });
    await b.next((m) => m.id === 2, FRAME_WAIT);
    b.send({ t: "action", id: 3, name: "whisper", args: ["ann", "psst"] });
    await b.next((m) => m.id === 3, FRAME_WAIT);
    // The whisper is the next event a gets: "again" never came.
    const whisper = await a.next((m) => m.t === "event", FRAME_WAIT);
    expect(whisper).toEqual({ t: "event", name: "whisper", args: ["psst"] });
    for (const c of [a, b, other]) c.ws.close();
  });

  test("conn.disconnect(reason) closes with 4000 and the reason; onDisconnect runs", async () => {
    t = await serve(target, registry);
    const a = await connectRaw(t.endpoint, q("kick"), { token: "good", name: "ann" });
    const admin = await connectRaw(t.endpoint, q("kick"), { token: "good", name: "admin" });
    admin.send({ t: "action", id: 1, name: "kick", args: ["ann"] });
    expect(await a.closed).toEqual({ code: 4000, reason: "kicked by admin" });
    await admin.next((m) => m.id === 1, FRAME_WAIT);
    await waitFor(async () => (await t!.seen(connectionsOf(["kick"]))).includes("disconnect:ann"), {
      ...SLOW,
      what: "onDisconnect",
    });
    admin.ws.close();
  });

  test("errors on an open connection have their own codes and keep it open", async () => {
    t = await serve(target, registry);
    const early = await openRaw(t.endpoint);
    early.send({ t: "action", id: 1, name: "echo", args: [1] });
    expect((await early.next((m) => m.t === "error", FRAME_WAIT)).error.code).toBe("not_connected");
    early.ws.close();

    const a = await connectRaw(t.endpoint, q("errors"), { token: "good" });
    const nextError = async () => (await a.next((m) => m.t === "error", FRAME_WAIT)).error.code;
    a.send("{not json");
    expect(await nextError()).toBe("invalid_message");
    a.send("[1,2]");
    expect(await nextError()).toBe("invalid_message");
    a.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await nextError()).toBe("invalid_message");
    a.send({ t: "teleport" });
    expect(await nextError()).toBe("unknown_message_type");
    a.send({ t: "action", id: 7, name: "nope", args: [] });
    expect((await a.next((m) => m.id === 7, FRAME_WAIT)).error.code).toBe("action_not_found");
    a.send({ t: "action", id: 8, name: "echo", args: "x" });
    expect((await a.next((m) => m.id === 8, FRAME_WAIT)).error.code).toBe("invalid_arguments");
    a.send({ t: "action", id: -1, name: "echo", args: [] });
    expect(await nextError()).toBe("invalid_message");
    a.send({ t: "action", id: 9, name: "echo", args: [42] });
    expect((await a.next((m) => m.id === 9, FRAME_WAIT)).output).toBe(42);
    a.ws.close();
  });

  test("a flood of malformed and oversized frames leaves the server serving others", async () => {
    t = await serve(target, registry);
    const good = await connectRaw(t.endpoint, q("flood"), { token: "good", name: "good" });
    const bad = await connectRaw(t.endpoint, q("flood"), { token: "good", name: "bad" });
    for (let i = 0; i < 50; i++) bad.send(`garbage ${i}`);
    expect((await bad.closed).code).toBe(1008);
    const big = await connectRaw(t.endpoint, q("flood"), { token: "good", name: "big" });
    big.send({ t: "action", id: 1, name: "echo", args: ["y".repeat(40 * 1024)] });
    expect((await big.closed).code).toBe(1009);
    good.send({ t: "action", id: 1, name: "echo", args: ["still here"] });
    expect((await good.next((m) => m.id === 1, FRAME_WAIT)).output).toBe("still here");
    const fresh = await connectRaw(t.endpoint, q("flood"), { token: "good" });
    fresh.ws.close();
    good.ws.close();
  });

  nodeOnly(
    target,
    "a Workers socket has no bufferedAmount to watch (and the test pauses the server's own TCP socket)",
  )("a slow consumer is dropped with 4008 instead of growing memory", async () => {
    const rt = await setupTest(registry);
    try {
      const slow = await connectRaw(rt.endpoint, q("r1"), { token: "good", name: "slow" });
      slow.send({ t: "sub", event: "blob" });
      await tick();
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const admin = await connectRaw(rt.endpoint, q("r1"), { token: "good", name: "admin" });
      admin.send({ t: "action", id: 1, name: "flood", args: [400, 64 * 1024] });
      await admin.next((m) => m.id === 1, 20_000);
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      const closed = await slow.closed;
      expect(closed.code).toBe(4008);
      expect(closed.reason).toContain("send_buffer_full");
      admin.ws.close();
    } finally {
      await rt.close();
    }
  });

  nodeOnly(
    target,
    "Workers sends no liveness pings (the platform keeps sockets alive itself); the manual clock and the engine's live actors",
  )("dead peers are dropped by liveness pings; a connection keeps the actor awake", async () => {
    const rt = await setupTest(registry);
    try {
      const silent = await connectRaw(
        rt.endpoint,
        q("r1"),
        { token: "good", name: "silent" },
        { autoPong: false },
      );
      const events = async () => recorded(connectionsOf(["r1"])).join(",");
      await rt.clock.advance(1000); // first ping goes out
      await tick(30);
      expect(await events()).not.toContain("disconnect:silent");
      await rt.clock.advance(1000); // no pong within connectionLivenessTimeout: dropped
      await waitFor(async () => (await events()).includes("disconnect:silent"), {
        what: "the silent peer dropped",
      });
      expect((await silent.closed).code).toBe(1006); // cut, no closing handshake
      expect(logged(logger, "key", "connId")).toEqual([
        {
          level: "info",
          message: "dropping a connection that stopped answering pings",
          key: ["r1"],
          connId: expect.any(String),
        },
      ]);
      await rt.clock.advance(1001); // now idle: it sleeps
      await tick(50);
      expect(rt.engine.placement.liveCount).toBe(0);
    } finally {
      await rt.close();
    }
  });

  nodeOnly(
    target,
    "Workers sends no liveness pings (the platform keeps sockets alive itself); the manual clock and the engine's live actors",
  )("a live peer answers pings, stays connected and keeps the actor awake", async () => {
    const rt = await setupTest(registry);
    try {
      const alive = await connectRaw(rt.endpoint, q("r1"), { token: "good", name: "alive" });
      for (let i = 0; i < 5; i++) {
        await rt.clock.advance(1000);
        await tick(30);
      }
      expect(alive.ws.readyState).toBe(WebSocket.OPEN);
      expect(rt.engine.placement.liveCount).toBe(1); // 5 s, sleepTimeout is 1 s
      alive.ws.close();
    } finally {
      await rt.close();
    }
  });

  test("HTTP calls run the connection hooks too: params reach c.conn, bad params are refused", async () => {
    t = await serve(target, registry);
    const post = (params?: unknown) =>
      fetch(`${t!.endpoint}/actors/action/whoAmI`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ actor: q("http"), args: [], params }),
      }).then((r) => r.json());
    expect((await post({ token: "good", name: "http" })).output).toEqual({
      name: "http",
      params: { token: "good", name: "http" },
      conns: 0,
    });
    expect((await post({ token: "bad" })).error.code).toBe("forbidden");
    expect((await post()).error.code).toBe("forbidden");
  });

  test("no init within 10 s is refused", async () => {
    t = await serve(target, registry);
    const mute = await openRaw(t.endpoint);
    // Node: the manual clock; workerd: the Worker's timer, in real time.
    await t.clock?.advance(10_001);
    expect((await mute.next((m) => m.t === "error", FRAME_WAIT)).error.code).toBe(
      "invalid_request",
    );
    expect((await mute.closed).code).toBe(4001);
  });

  nodeOnly(target, "Workers have no server shutdown: the platform evicts an object unannounced")(
    "a server shutdown closes connections with 1001",
    async () => {
      const rt = await setupTest(registry);
      const a = await connectRaw(rt.endpoint, q("r1"), { token: "good" });
      const closing = rt.close();
      expect((await a.closed).code).toBe(1001);
      await closing;
    },
  );
});
