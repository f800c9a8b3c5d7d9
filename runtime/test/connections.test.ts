// The server side of connections, driven with a raw protocol client over real sockets.
import { actor, setup, UserError } from "troupe";
import { captureLogger, setupTest, type TestRuntime } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { logged } from "./logged.js";
import { connectRaw, openRaw } from "./protocol-client.js";

const log: string[] = [];
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

const room = actor({
  state: { joined: 0, left: 0 },
  createConnState: (c, params: { token?: string; name?: string } | undefined): { name: string } => {
    const origin = (c as { request?: Request }).request?.headers.get("origin");
    if (origin === "https://evil.example") {
      throw new UserError("Origin not allowed", { code: "origin_not_allowed" });
    }
    if (params?.token !== "good")
      throw new UserError("Invalid token", { code: "forbidden", metadata: { hint: "sign in" } });
    return { name: params.name ?? "anon" };
  },
  onConnect: (c, conn) => {
    c.state.joined++;
    log.push(`connect:${conn.state.name}`);
  },
  onDisconnect: (c, conn) => {
    c.state.left++;
    log.push(`disconnect:${conn.state.name}`);
  },
  actions: {
    whoAmI: (c) => ({ name: c.conn!.state.name, params: c.conn!.params, conns: c.conns.size }),
    say: (c, text: string) => {
      c.broadcast("said", c.conn!.state.name, text);
      return text.length;
    },
    whisper: (c, to: string, text: string) => {
      for (const conn of c.conns.values()) if (conn.state.name === to) conn.send("whisper", text);
    },
    kick: async (c, name: string) => {
      for (const conn of c.conns.values())
        if (conn.state.name === name) await conn.disconnect("kicked by admin");
    },
    flood: (c, count: number, size: number) => {
      const blob = "x".repeat(size);
      for (let i = 0; i < count; i++) c.broadcast("blob", blob);
    },
    echo: (_c, v: unknown) => v,
    slow: (_c, ms: number, v: number) => new Promise((r) => setTimeout(() => r(v), ms)),
    stats: (c) => c.state,
  },
  options: { sleepTimeout: 1000, connectionLivenessInterval: 1000, connectionLivenessTimeout: 500 },
});

const logger = captureLogger();
const registry = setup({
  use: { room },
  maxIncomingMessageSize: 32 * 1024,
  maxOutgoingBuffer: 256 * 1024,
  logger,
});
let t: TestRuntime<typeof registry>;
beforeEach(() => logger.clear());
afterEach(() => t?.close());
const q = { name: "room", key: ["r1"], mode: "getOrCreate" };

describe("connections (server side)", () => {
  test("connect runs the hooks, c.conn carries params and state, actions are matched by id", async () => {
    t = await setupTest(registry);
    log.length = 0;
    const a = await connectRaw(t.endpoint, q, { token: "good", name: "ann" });
    expect(log).toEqual(["connect:ann"]);
    a.send({ t: "action", id: 1, name: "whoAmI", args: [] });
    expect((await a.next((m) => m.id === 1)).output).toEqual({
      name: "ann",
      params: { token: "good", name: "ann" },
      conns: 1,
    });
    // Many in flight, answered out of order, matched by id.
    for (let i = 2; i < 40; i++)
      a.send({ t: "action", id: i, name: "slow", args: [(40 - i) * 2, i] });
    const results = await Promise.all(
      Array.from({ length: 38 }, (_, k) => a.next((m) => m.id === k + 2)),
    );
    expect(results.map((r) => r.output)).toEqual(Array.from({ length: 38 }, (_, k) => k + 2));
    a.ws.close();
    await tick(50);
    expect(log).toEqual(["connect:ann", "disconnect:ann"]);
  });

  test("a refused connect shows the UserError's code and closes with 4001", async () => {
    t = await setupTest(registry);
    const c = await openRaw(t.endpoint);
    c.send({ t: "init", actor: q, params: { token: "bad" } });
    const err = await c.next((m) => m.t === "error");
    expect(err.error).toEqual({
      code: "forbidden",
      message: "Invalid token",
      metadata: { hint: "sign in" },
    });
    expect(await c.closed).toEqual({ code: 4001, reason: "forbidden" });
  });

  test("onBeforeConnect/createConnState see the upgrade request (origin check)", async () => {
    t = await setupTest(registry);
    const c = await openRaw(t.endpoint, { headers: { origin: "https://evil.example" } });
    c.send({ t: "init", actor: q, params: { token: "good" } });
    expect((await c.next((m) => m.t === "error")).error.code).toBe("origin_not_allowed");
    const ok = await connectRaw(
      t.endpoint,
      q,
      { token: "good" },
      { headers: { origin: "https://app.example" } },
    );
    ok.ws.close();
  });

  test("broadcast reaches only subscribed connections; conn.send reaches one", async () => {
    t = await setupTest(registry);
    const a = await connectRaw(t.endpoint, q, { token: "good", name: "ann" });
    const b = await connectRaw(t.endpoint, q, { token: "good", name: "bob" });
    const other = await connectRaw(
      t.endpoint,
      { ...q, key: ["r2"] },
      { token: "good", name: "eve" },
    );
    a.send({ t: "sub", event: "said" });
    other.send({ t: "sub", event: "said" });
    await tick();
    b.send({ t: "action", id: 1, name: "say", args: ["hello"] });
    await b.next((m) => m.id === 1);
    expect((await a.next((m) => m.t === "event")).args).toEqual(["bob", "hello"]);
    await tick(50);
    expect(b.messages.filter((m) => m.t === "event")).toEqual([]); // not subscribed
    expect(other.messages.filter((m) => m.t === "event")).toEqual([]); // another actor
    a.send({ t: "unsub", event: "said" });
    await tick();
    b.send({ t: "action", id: 2, name: "say", args: ["again"] });
    await b.next((m) => m.id === 2);
    b.send({ t: "action", id: 3, name: "whisper", args: ["ann", "psst"] });
    await b.next((m) => m.id === 3);
    const whisper = await a.next((m) => m.t === "event");
    expect(whisper).toEqual({ t: "event", name: "whisper", args: ["psst"] });
    for (const c of [a, b, other]) c.ws.close();
  });

  test("conn.disconnect(reason) closes with 4000 and the reason; onDisconnect runs", async () => {
    t = await setupTest(registry);
    log.length = 0;
    const a = await connectRaw(t.endpoint, q, { token: "good", name: "ann" });
    const admin = await connectRaw(t.endpoint, q, { token: "good", name: "admin" });
    admin.send({ t: "action", id: 1, name: "kick", args: ["ann"] });
    expect(await a.closed).toEqual({ code: 4000, reason: "kicked by admin" });
    await admin.next((m) => m.id === 1);
    expect(log).toContain("disconnect:ann");
    admin.ws.close();
  });

  test("errors on an open connection have their own codes and keep it open", async () => {
    t = await setupTest(registry);
    const early = await openRaw(t.endpoint);
    early.send({ t: "action", id: 1, name: "echo", args: [1] });
    expect((await early.next((m) => m.t === "error")).error.code).toBe("not_connected");
    early.ws.close();

    const a = await connectRaw(t.endpoint, q, { token: "good" });
    a.send("{not json");
    expect((await a.next((m) => m.t === "error")).error.code).toBe("invalid_message");
    a.send("[1,2]");
    expect((await a.next((m) => m.t === "error")).error.code).toBe("invalid_message");
    a.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await a.next((m) => m.t === "error")).error.code).toBe("invalid_message");
    a.send({ t: "teleport" });
    expect((await a.next((m) => m.t === "error")).error.code).toBe("unknown_message_type");
    a.send({ t: "action", id: 7, name: "nope", args: [] });
    expect((await a.next((m) => m.id === 7)).error.code).toBe("action_not_found");
    a.send({ t: "action", id: 8, name: "echo", args: "x" });
    expect((await a.next((m) => m.id === 8)).error.code).toBe("invalid_arguments");
    a.send({ t: "action", id: -1, name: "echo", args: [] });
    expect((await a.next((m) => m.t === "error")).error.code).toBe("invalid_message");
    a.send({ t: "action", id: 9, name: "echo", args: [42] });
    expect((await a.next((m) => m.id === 9)).output).toBe(42);
    a.ws.close();
  });

  test("a flood of malformed and oversized frames leaves the server serving others", async () => {
    t = await setupTest(registry);
    const good = await connectRaw(t.endpoint, q, { token: "good", name: "good" });
    const bad = await connectRaw(t.endpoint, q, { token: "good", name: "bad" });
    for (let i = 0; i < 50; i++) bad.send(`garbage ${i}`);
    expect((await bad.closed).code).toBe(1008);
    const big = await connectRaw(t.endpoint, q, { token: "good", name: "big" });
    big.send({ t: "action", id: 1, name: "echo", args: ["y".repeat(40 * 1024)] });
    expect((await big.closed).code).toBe(1009);
    good.send({ t: "action", id: 1, name: "echo", args: ["still here"] });
    expect((await good.next((m) => m.id === 1)).output).toBe("still here");
    const fresh = await connectRaw(t.endpoint, q, { token: "good" });
    fresh.ws.close();
    good.ws.close();
  });

  test("a slow consumer is dropped with 4008 instead of growing memory", async () => {
    t = await setupTest(registry);
    const slow = await connectRaw(t.endpoint, q, { token: "good", name: "slow" });
    slow.send({ t: "sub", event: "blob" });
    await tick();
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const admin = await connectRaw(t.endpoint, q, { token: "good", name: "admin" });
    admin.send({ t: "action", id: 1, name: "flood", args: [400, 64 * 1024] });
    await admin.next((m) => m.id === 1, 20_000);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await slow.closed;
    expect(closed.code).toBe(4008);
    expect(closed.reason).toContain("send_buffer_full");
    admin.ws.close();
  });

  test("dead peers are dropped by liveness pings; a connection keeps the actor awake", async () => {
    t = await setupTest(registry);
    log.length = 0;
    const silent = await connectRaw(
      t.endpoint,
      q,
      { token: "good", name: "silent" },
      { autoPong: false },
    );
    await t.clock.advance(1000); // first ping goes out
    await tick(30);
    expect(log).not.toContain("disconnect:silent");
    await t.clock.advance(1000); // no pong within connectionLivenessTimeout: dropped
    await tick(50);
    expect(log).toContain("disconnect:silent");
    expect((await silent.closed).code).toBe(1006); // cut, no closing handshake
    expect(logged(logger, "key", "connId")).toEqual([
      {
        level: "info",
        message: "dropping a connection that stopped answering pings",
        key: ["r1"],
        connId: expect.any(String),
      },
    ]);
    await t.clock.advance(1001); // now idle: it sleeps
    await tick(50);
    expect(t.engine.placement.liveCount).toBe(0);
  });

  test("a live peer answers pings, stays connected and keeps the actor awake", async () => {
    t = await setupTest(registry);
    const alive = await connectRaw(t.endpoint, q, { token: "good", name: "alive" });
    for (let i = 0; i < 5; i++) {
      await t.clock.advance(1000);
      await tick(30);
    }
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    expect(t.engine.placement.liveCount).toBe(1); // 5 s, sleepTimeout is 1 s
    alive.ws.close();
  });

  test("HTTP calls run the connection hooks too: params reach c.conn, bad params are refused", async () => {
    t = await setupTest(registry);
    const post = (params?: unknown) =>
      fetch(`${t.endpoint}/actors/action/whoAmI`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ actor: q, args: [], params }),
      }).then((r) => r.json());
    expect((await post({ token: "good", name: "http" })).output).toEqual({
      name: "http",
      params: { token: "good", name: "http" },
      conns: 0,
    });
    expect((await post({ token: "bad" })).error.code).toBe("forbidden");
    expect((await post()).error.code).toBe("forbidden");
  });

  test("no init within 10 s is refused; a server shutdown closes connections with 1001", async () => {
    t = await setupTest(registry);
    const mute = await openRaw(t.endpoint);
    await t.clock.advance(10_001);
    expect((await mute.next((m) => m.t === "error")).error.code).toBe("invalid_request");
    expect((await mute.closed).code).toBe(4001);
    const a = await connectRaw(t.endpoint, q, { token: "good" });
    const closing = t.close();
    expect((await a.closed).code).toBe(1001);
    await closing;
  });
});
