// The client side of connections (`handle.connect()`), through the public API against a real
// server: events, ids, status, rejection, reconnect across a server restart, and the ways a call
// fails instead of hanging. A few cases need a server that misbehaves on purpose: those use a tiny
// scripted `ws` server, or a TCP proxy that can cut the line.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ActorConnMethods,
  ActorError,
  type ConnectOptions,
  type ConnStatus,
  createClient,
} from "troupe/client";
import { freePort, startTcpProxy } from "troupe/test";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { connectionsClientRegistry, lobbyRegistry } from "./fixtures/suites/connections-client.js";
import { opened } from "./opened.js";
import { nodeOnly, type Served, serve, TARGETS } from "./spec-targets.js";
import { until } from "./support.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long to wait for what a Durable Object does (its first wake is slow on a busy machine). */
const SLOW_MS = 60_000;

/** The error a call fails with; a call that succeeds fails the test. */
function failure(call: Promise<unknown>): Promise<ActorError> {
  return call.then(
    (value) => {
      throw new Error(`Expected the call to fail, it returned ${JSON.stringify(value)}`);
    },
    (err) => err as ActorError,
  );
}

const registry = connectionsClientRegistry();

function connectWith<C>(handle: { connect(opts?: ConnectOptions): C }, opts: ConnectOptions): C {
  return handle.connect(opts);
}

function recordStatus(conn: ActorConnMethods): ConnStatus[] {
  const seen: ConnStatus[] = [];
  conn.onStatusChange((s) => seen.push(s));
  return seen;
}

/**
 * Frames this process's `ws` sockets received, parsed: what reached the client (the client runs
 * on the `ws` package here, see below), whichever server sent it.
 */
function spyReceivedFrames(): { frames: () => any[]; restore: () => void } {
  const spy = vi.spyOn(WebSocket.prototype, "emit");
  return {
    frames: () =>
      spy.mock.calls.flatMap(([event, data]) => {
        if (event !== "message") return [];
        try {
          return [JSON.parse(Buffer.from(data as Uint8Array).toString())];
        } catch {
          return [];
        }
      }),
    restore: () => spy.mockRestore(),
  };
}

let t: Served<typeof registry> | undefined;
const conns: ActorConnMethods[] = [];
/** Tracks a connection so that afterEach disposes it. */
function track<C extends ActorConnMethods>(conn: C): C {
  conns.push(conn);
  return conn;
}

afterEach(async () => {
  await Promise.all(conns.splice(0).map((c) => c.dispose()));
  await t?.close();
  t = undefined;
  vi.restoreAllMocks();
});

// Node 20 has no global WebSocket; newer Nodes do. Hide it for this file so every test here runs
// on what a Node 20 user has (the client falls back to the `ws` package).
const nativeWebSocket = (globalThis as { WebSocket?: unknown }).WebSocket;
beforeAll(() => {
  delete (globalThis as { WebSocket?: unknown }).WebSocket;
});
afterAll(() => {
  if (nativeWebSocket) (globalThis as { WebSocket?: unknown }).WebSocket = nativeWebSocket;
});

// On workerd the actors outlive a test (one process per file): each test uses keys of its own.
describe.each(TARGETS)("connections (client side) on %s", (target) => {
  test("works without a global WebSocket (Node 20)", { timeout: 120_000 }, async () => {
    expect((globalThis as { WebSocket?: unknown }).WebSocket).toBeUndefined();
    t = await serve(target, registry);
    const conn = track(t.client.chat.getOrCreate(["node20"]).connect());
    expect(await conn.increment(2)).toBe(2);
  });

  test("status goes idle -> connecting -> connected, with onOpen and a connId", async () => {
    t = await serve(target, registry);
    const conn = track(t.client.chat.getOrCreate(["status"]).connect());
    expect(conn.status).toBe("idle");
    expect(conn.connId).toBeUndefined();
    const seen = recordStatus(conn);
    let opens = 0;
    conn.onOpen(() => opens++);
    await opened(conn);
    expect(seen).toEqual(["connecting", "connected"]);
    expect(opens).toBe(1);
    expect(typeof conn.connId).toBe("string");
    // `await conn` must not call an action named "then".
    expect((conn as unknown as { then?: unknown }).then).toBeUndefined();
    expect(await Promise.resolve(conn)).toBe(conn);

    const closes: { code: number; reason: string }[] = [];
    conn.onClose((e) => closes.push(e));
    await conn.dispose();
    expect(seen).toEqual(["connecting", "connected", "disconnected"]);
    expect(closes).toEqual([{ code: 1000, reason: "disposed" }]);
    expect(conn.connId).toBeUndefined();
  });

  test("events reach listeners with every argument; conn.send reaches one connection", async () => {
    t = await serve(target, registry);
    const handle = t.client.chat.getOrCreate(["events"]);
    const a = track(handle.connect());
    const b = track(handle.connect());
    const got: unknown[][] = [];
    const counts: number[] = [];
    a.on("shout", (...args) => got.push(args));
    b.on("count", (n: number) => counts.push(n));
    const direct: string[] = [];
    b.on("direct", (m: string) => direct.push(m));
    await Promise.all([opened(a), opened(b)]);
    await a.shout("hi", { n: 1 }, [2]);
    await a.increment(5);
    await b.increment(1);
    await a.direct(); // to a only, and a has no "direct" listener
    await b.direct();
    await until(() => counts.length === 2 && direct.length === 1 && got.length === 1, SLOW_MS);
    expect(got).toEqual([["hi", { n: 1 }, [2]]]);
    expect(counts).toEqual([5, 6]);
    expect(direct).toEqual(["just you"]);
  });

  test("once fires once; unsubscribing the last listener stops the server's sends", async () => {
    t = await serve(target, registry);
    const wire = spyReceivedFrames();
    const conn = track(t.client.chat.getOrCreate(["once"]).connect());
    const once: number[] = [];
    const all: number[] = [];
    conn.once("count", (n: number) => once.push(n));
    const off = conn.on("count", (n: number) => all.push(n));
    const offEarly = conn.once("count", () => {
      throw new Error("unsubscribed before it fired");
    });
    offEarly();
    await conn.increment(1);
    await conn.increment(1);
    await until(() => all.length === 2, SLOW_MS);
    expect(once).toEqual([1]);
    expect(all).toEqual([1, 2]);

    off();
    off(); // idempotent
    const received = () => wire.frames().filter((f) => f.t === "event" && f.name === "count");
    expect(received()).toHaveLength(2);
    // `unsub` went out before this call on the same socket, and an event it caused would
    // arrive before its reply: none did, so the server sent nothing.
    expect(await conn.increment(1)).toBe(3);
    expect(received()).toHaveLength(2);
    expect(all).toEqual([1, 2]);
    wire.restore();
  });

  test("a throwing listener does not stop the others", async () => {
    t = await serve(target, registry);
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const conn = track(t.client.chat.getOrCreate(["throws"]).connect());
    const got: number[] = [];
    conn.on("count", () => {
      throw new Error("listener bug");
    });
    conn.on("count", (n: number) => got.push(n));
    await conn.increment(7);
    await until(() => got.length === 1, SLOW_MS);
    expect(got).toEqual([7]);
    expect(errors).toHaveBeenCalled();
    expect(String(errors.mock.calls[0]?.join(" "))).toContain("count");
    expect(conn.status).toBe("connected");
  });

  test("many actions in flight are matched to their replies by id", async () => {
    t = await serve(target, registry);
    const conn = track(t.client.chat.getOrCreate(["many"]).connect());
    // Queued before welcome, then on the wire together; the slowest go first.
    const calls = Array.from({ length: 60 }, (_, i) => conn.slow((60 - i) * 2, i));
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(await conn.action({ name: "echo", args: [{ deep: [1, "two"] }] })).toEqual({
      deep: [1, "two"],
    });
    const err = await failure(conn.action({ name: "nope" }));
    expect(err).toBeInstanceOf(ActorError);
    expect(err.code).toBe("action_not_found");
    expect(conn.status).toBe("connected");
  });

  test("params reach the actor; a rejected init is final and reported with the server's error", async () => {
    t = await serve(target, registry);
    const good = track(t.client.chat.getOrCreate(["auth"], { params: { token: "ok" } }).connect());
    expect(await good.token()).toBe("ok");

    let attempts = 0;
    const handle = t.client.chat.getOrCreate(["auth"], {
      getParams: () => {
        attempts++;
        return { token: "bad" };
      },
    });
    const conn = track(connectWith(handle, { reconnectInitialDelay: 10 }));
    const seen = recordStatus(conn);
    const errors: ActorError[] = [];
    conn.onError((e) => errors.push(e as ActorError));
    const closes: { code: number; reason: string }[] = [];
    conn.onClose((e) => closes.push(e));
    let opens = 0;
    conn.onOpen(() => opens++);
    const queued = failure(conn.increment(1));

    const err = await queued;
    expect(err).toBeInstanceOf(ActorError);
    expect(err.code).toBe("forbidden");
    expect(err.message).toBe("Invalid token");
    expect(err.metadata).toEqual({ hint: "sign in" });
    expect(errors.map((e) => [e.code, e.message, e.metadata])).toEqual([
      ["forbidden", "Invalid token", { hint: "sign in" }],
    ]);
    await until(() => closes.length === 1, SLOW_MS);
    expect(closes).toEqual([{ code: 4001, reason: "forbidden" }]);
    await sleep(200); // would be several retries at 10 ms
    expect(attempts).toBe(1);
    expect(opens).toBe(0);
    expect(seen).toEqual(["connecting", "disconnected"]);
    expect(conn.status).toBe("disconnected");
    // Later calls fail the same way, at once.
    expect((await failure(conn.getCount())).code).toBe("forbidden");
  });

  test("the actor closing the connection (4000) is final: onClose, no reconnect", async () => {
    t = await serve(target, registry);
    const conn = track(
      connectWith(t.client.chat.getOrCreate(["kick"]), { reconnectInitialDelay: 10 }),
    );
    const seen = recordStatus(conn);
    const closes: { code: number; reason: string }[] = [];
    conn.onClose((e) => closes.push(e));
    const errors: ActorError[] = [];
    conn.onError((e) => errors.push(e));
    await conn.kick().catch(() => {}); // the reply may or may not beat the close
    await until(() => closes.length === 1, SLOW_MS);
    expect(closes).toEqual([{ code: 4000, reason: "bye" }]);
    // onError says why, with the close code and reason as metadata.
    expect(errors.map((e) => [e.code, e.metadata])).toEqual([
      ["connection_closed", { code: 4000, reason: "bye" }],
    ]);
    await sleep(100);
    expect(seen).toEqual(["connecting", "connected", "disconnected"]);
    const err = await failure(conn.getCount());
    expect(err.code).toBe("connection_closed");
    expect(err.message).toContain("bye");
  });

  nodeOnly(
    target,
    "stops and restarts a Node server on the same port; a connection across a workerd restart is in cloudflare.test.ts",
  )(
    "a server restart: reconnects with fresh params, restores subscriptions, runs queued calls",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "troupe-conn-"));
      const storage = { driver: "file" as const, path: dir };
      let server = registry.serve({ port: 0, hostname: "127.0.0.1", storage });
      await server.ready;
      const port = server.port;
      try {
        const client = createClient<typeof registry>(
          `http://127.0.0.1:${port}${registry.basePath}`,
        );
        let tokens = 0;
        const handle = client.chat.getOrCreate(["restart"], {
          getParams: async () => ({ token: `t${++tokens}` }),
        });
        const conn = track(
          connectWith(handle, { reconnectInitialDelay: 20, reconnectMaxDelay: 100 }),
        );
        const seen = recordStatus(conn);
        const counts: number[] = [];
        conn.on("count", (n: number) => counts.push(n));
        const closes: number[] = [];
        conn.onClose((e) => closes.push(e.code));
        const errors: string[] = [];
        conn.onError((e) => errors.push(e.code));
        expect(await conn.increment(1)).toBe(1);
        expect(await conn.token()).toBe("t1");
        const firstConnId = conn.connId;

        await server.close();
        await until(() => conn.status === "connecting", 5000, "the drop");
        expect(closes).toEqual([1001]);
        const queued = conn.increment(10); // during the outage: waits for the new server
        await sleep(300); // several failed attempts
        expect(conn.status).toBe("connecting");
        expect(errors).toEqual(["network_error"]); // once per outage, not per attempt
        expect(tokens).toBeGreaterThan(2); // getParams before every attempt

        server = registry.serve({ port, hostname: "127.0.0.1", storage });
        await server.ready;
        expect(await queued).toBe(11);
        expect(conn.status).toBe("connected");
        expect(conn.connId).not.toBe(firstConnId);
        expect(await conn.token()).toBe(`t${tokens}`);
        // The subscription came back by itself: a broadcast after the restart arrives.
        await conn.increment(1);
        await until(() => counts.length === 3);
        expect(counts).toEqual([1, 11, 12]);
        expect(seen).toEqual(["connecting", "connected", "connecting", "connected"]);
      } finally {
        await Promise.all(conns.splice(0).map((c) => c.dispose()));
        await server.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  test("a call in flight when the line drops fails with connection_lost, and is not resent", async () => {
    t = await serve(target, registry);
    const proxy = await startTcpProxy("127.0.0.1", Number(new URL(t.url).port));
    try {
      const through = new URL(t.endpoint);
      through.port = String(proxy.port);
      const client = createClient<typeof registry>(through.toString());
      const conn = track(
        connectWith(client.chat.getOrCreate(["lost"]), { reconnectInitialDelay: 20 }),
      );
      const closes: number[] = [];
      conn.onClose((e) => closes.push(e.code));
      await opened(conn);
      const inFlight = failure(conn.slow(300, 1));
      await sleep(50);
      await proxy.cut();
      await proxy.restore();
      const err = await inFlight;
      expect(err).toBeInstanceOf(ActorError);
      expect(err.code).toBe("connection_lost");
      expect(closes).toEqual([1006]);
      // It reconnects through the proxy, which accepts connections again.
      await until(() => conn.status === "connected", SLOW_MS, "the reconnect");
      expect(await conn.increment(1)).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  test("dispose rejects waiting calls with connection_disposed, is idempotent, and is final", async () => {
    t = await serve(target, registry);
    const conn = track(t.client.chat.getOrCreate(["dispose"]).connect());
    const queued = failure(conn.getCount()); // before welcome
    const p1 = conn.dispose();
    const p2 = conn.dispose();
    expect(p2).toBe(p1);
    await p1;
    expect((await queued).code).toBe("connection_disposed");
    expect(conn.status).toBe("disconnected");
    const later = await failure(conn.increment(1));
    expect(later).toBeInstanceOf(ActorError);
    expect(later.code).toBe("connection_disposed");

    const open = track(t.client.chat.getOrCreate(["dispose"]).connect());
    await opened(open);
    const inFlight = failure(open.slow(200, 1));
    await sleep(20);
    await open.dispose();
    expect((await inFlight).code).toBe("connection_disposed");
  });

  test("a call over maxMessageSize fails locally with payload_too_large; the connection stays", async () => {
    t = await serve(target, registry);
    const conn = track(t.client.chat.getOrCreate(["big"]).connect());
    await opened(conn);
    const err = await failure(conn.echo("x".repeat(1024 * 1024)));
    expect(err).toBeInstanceOf(ActorError);
    expect(err.code).toBe("payload_too_large");
    expect(err.metadata).toMatchObject({ limit: 1024 * 1024 });
    const small = track(connectWith(t.client.chat.getOrCreate(["big"]), { maxMessageSize: 100 }));
    // Multi-byte characters count as UTF-8 bytes: 40 x "é" is 80 bytes, over 100 with the envelope.
    expect((await failure(small.echo("é".repeat(40)))).code).toBe("payload_too_large");
    expect(await small.echo("ok")).toBe("ok");
    expect(await conn.echo("still here")).toBe("still here");
    expect(conn.status).toBe("connected");
  });

  test("handle actions over HTTP carry the params too", async () => {
    t = await serve(target, registry);
    let calls = 0;
    const handle = t.client.chat.getOrCreate(["http-params"], {
      getParams: () => ({ token: `h${++calls}` }),
    });
    expect(await handle.token()).toBe("h1");
    expect(await handle.token()).toBe("h2");
    const refused = await failure(
      t.client.chat.getOrCreate(["http-params"], { params: { token: "bad" } }).getCount(),
    );
    expect(refused.code).toBe("forbidden");
  });

  test("handle.fetch sends skipReadyWait as a header; handle.webSocket opens a raw socket", async () => {
    t = await serve(target, registry);
    const handle = t.client.raw.getOrCreate(["r"]);
    const plain = await (await handle.fetch("/a", { headers: { "x-other": "1" } })).json();
    expect(plain).toEqual({ path: "/a", skip: null, other: "1" });
    const skipping = await (
      await handle.fetch("/b", { skipReadyWait: true, headers: { "x-other": "2" } })
    ).json();
    expect(skipping).toEqual({ path: "/b", skip: "1", other: "2" });
    const fromRequest = await (
      await handle.fetch(new Request("http://ignored/c", { headers: { "x-other": "3" } }), {
        skipReadyWait: true,
      })
    ).json();
    expect(fromRequest).toEqual({ path: "/c", skip: "1", other: "3" });

    const ws = await handle.webSocket("echo", undefined, { skipReadyWait: true });
    const reply = new Promise<string>((resolve) =>
      ws.addEventListener("message", (e) => resolve(String(e.data))),
    );
    ws.send("hi");
    expect(await reply).toBe("/echo:hi");
    ws.close();
  });

  test("actors connect to each other in-process with the same client", async () => {
    t = await serve(target, registry);
    expect(await t.client.relay.getOrCreate(["r"]).viaConnection("in-process")).toEqual({
      first: 3,
      second: 7,
      events: [3, 7],
      statuses: ["connecting", "connected", "disconnected"],
    });
  });

  test("a process with a connection exits once the connection is disposed or refused", async () => {
    t = await serve(target, registry);
    const dir = await mkdtemp(join(tmpdir(), "troupe-exit-"));
    const script = join(dir, "script.mts");
    const clientModule = join(import.meta.dirname, "../src/client/index.ts");
    const nowhere = await freePort();
    await writeFile(
      script,
      `import { createClient } from ${JSON.stringify(clientModule)};
delete globalThis.WebSocket;
const client = createClient(${JSON.stringify(t.endpoint)});
const conn = client.chat.getOrCreate(["exit"]).connect();
conn.on("count", () => {});
await conn.increment(1);
const pending = conn.slow(10000, 1).catch(() => {});
await conn.dispose();
await pending;
const refused = client.chat.getOrCreate(["exit"], { params: { token: "bad" } }).connect();
refused.onError(() => {});
await refused.getCount().catch(() => {});
const down = createClient("http://127.0.0.1:${nowhere}").chat.getOrCreate(["x"]).connect();
down.onError(() => {});
await new Promise((r) => setTimeout(r, 300));
await down.dispose();
console.log("done");
`,
    );
    try {
      const tsx = join(import.meta.dirname, "../node_modules/.bin/tsx");
      // Killed if it hangs: an open handle left behind would keep it alive.
      const { code, stdout, stderr } = await run(tsx, [script], 30_000);
      expect(stderr).toBe("");
      expect(stdout.trim()).toBe("done");
      expect(code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("connections with no server", () => {
  test("calls fail with connection_unavailable past queueTimeout or maxQueue, never hang", async () => {
    const port = await freePort();
    const client = createClient(`http://127.0.0.1:${port}`);
    const conn = track(
      connectWith(client.chat.getOrCreate(["nobody"]), {
        queueTimeout: 150,
        maxQueue: 2,
        reconnectInitialDelay: 20,
        reconnectMaxDelay: 40,
      }),
    );
    const errors: string[] = [];
    conn.onError((e) => errors.push(e.code));
    const first = failure(conn.getCount());
    const second = failure(conn.getCount());
    const third = await failure(conn.getCount());
    expect(third.code).toBe("connection_unavailable");
    expect(third.message).toContain("maxQueue");
    const started = Date.now();
    const err = await first;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err).toBeInstanceOf(ActorError);
    expect(err.code).toBe("connection_unavailable");
    expect(err.message).toContain("queueTimeout");
    expect(err.message).toMatch(/ECONNREFUSED|closed/);
    expect((await second).code).toBe("connection_unavailable");
    expect(conn.status).toBe("connecting");
    expect(errors).toEqual(["network_error"]);
  });
});

describe("connections against a misbehaving server", () => {
  test("malformed frames and unknown ids are reported, the connection keeps going", async () => {
    const fake = await fakeServer((ws, msg) => {
      if (msg.t === "init") {
        ws.send(JSON.stringify({ t: "welcome", connId: "c1", actorId: "a1" }));
        ws.send("not json");
        ws.send(JSON.stringify({ t: "surprise" }));
        ws.send(JSON.stringify({ t: "result", id: 999, output: 1 }));
        ws.send(Buffer.from([1, 2, 3]), { binary: true });
      } else if (msg.t === "action") {
        ws.send(JSON.stringify({ t: "result", id: msg.id, output: msg.args[0] }));
      }
    });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const conn = track(createClient(fake.url).chat.getOrCreate(["x"]).connect());
      const errors: ActorError[] = [];
      conn.onError((e) => errors.push(e as ActorError));
      expect(await conn.echo(42)).toBe(42);
      await until(() => errors.length === 3);
      expect(errors.map((e) => e.code)).toEqual([
        "invalid_response",
        "invalid_response",
        "invalid_response",
      ]);
      expect(warn.mock.calls.some((c) => String(c[0]).includes("999"))).toBe(true);
      expect(conn.status).toBe("connected");
      expect(conn.connId).toBe("c1");
    } finally {
      await fake.close();
    }
  });

  test("1008, 1009 and 4008 are reported with their codes, then the client reconnects", async () => {
    const codes = [1008, 1009, 4008];
    let sockets = 0;
    const fake = await fakeServer((ws, msg) => {
      if (msg.t !== "init") return;
      const n = sockets++;
      ws.send(JSON.stringify({ t: "welcome", connId: `c${n}`, actorId: "a1" }));
      if (n < codes.length) setTimeout(() => ws.close(codes[n], "closing"), 10);
    });
    try {
      const conn = track(
        connectWith(createClient(fake.url).chat.getOrCreate(["x"]), { reconnectInitialDelay: 10 }),
      );
      const errors: string[] = [];
      conn.onError((e) => errors.push(e.code));
      const opens: string[] = [];
      conn.onOpen(() => opens.push(conn.connId!));
      await until(() => opens.length === 4, 5000, "four welcomes");
      expect(errors).toEqual(["too_many_errors", "message_too_large", "send_buffer_full"]);
      expect(opens).toEqual(["c0", "c1", "c2", "c3"]);
    } finally {
      await fake.close();
    }
  });

  test("actor_stopping at init is transient: the client retries", async () => {
    let inits = 0;
    const fake = await fakeServer((ws, msg) => {
      if (msg.t === "sub") ws.send(JSON.stringify({ t: "event", name: msg.event, args: ["hi"] }));
      if (msg.t !== "init") return;
      if (inits++ === 0) {
        ws.send(
          JSON.stringify({ t: "error", error: { code: "actor_stopping", message: "stopping" } }),
        );
        ws.close(4001, "actor_stopping");
      } else {
        ws.send(JSON.stringify({ t: "welcome", connId: "c2", actorId: "a1" }));
        // The listener registered before connecting rides in init's subs.
        for (const name of msg.subs ?? []) {
          ws.send(JSON.stringify({ t: "event", name, args: ["hi"] }));
        }
      }
    });
    try {
      const conn = track(
        connectWith(createClient(fake.url).chat.getOrCreate(["x"]), { reconnectInitialDelay: 10 }),
      );
      const errors: string[] = [];
      conn.onError((e) => errors.push(e.code));
      const got: string[] = [];
      conn.on("greeting", (s: string) => got.push(s));
      await until(() => got.length === 1, 5000, "the event after the retry");
      expect(inits).toBe(2);
      expect(errors).toEqual([]);
      expect(conn.status).toBe("connected");
    } finally {
      await fake.close();
    }
  });
});

// ---- helpers -----------------------------------------------------------------------------------

/** A `ws` server at /api/troupe/actors/connect that answers frames with `onFrame`. */
async function fakeServer(
  onFrame: (ws: WebSocket, msg: any) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const wss = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    path: "/api/troupe/actors/connect",
  });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  wss.on("connection", (ws) => {
    ws.on("message", (data) => onFrame(ws, JSON.parse(data.toString())));
  });
  return {
    url: `http://127.0.0.1:${(wss.address() as { port: number }).port}`,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.each(TARGETS)("subscriptions from the start (init's subs) on %s", (target) => {
  const lobbies = lobbyRegistry();
  let lt: Served<typeof lobbies> | undefined;
  afterEach(async () => {
    await lt?.close();
    lt = undefined;
  });

  test("listeners added before connecting hear onConnect's broadcast and the one right after welcome", {
    timeout: 120_000,
  }, async () => {
    lt = await serve(target, lobbies);
    const conn = lt.client.lobby.getOrCreate(["a"]).connect();
    const joined: number[] = [];
    const started: string[] = [];
    conn.on("joined", (n: number) => joined.push(n));
    conn.on("started", (s: string) => started.push(s));
    await until(() => joined.length === 1 && started.length === 1, SLOW_MS);
    expect(joined).toEqual([1]);
    expect(started).toEqual(["go"]);
    // A listener added after the socket opened still subscribes (with `sub`).
    const late: number[] = [];
    conn.on("joined", () => {}); // same name: nothing new to send
    const second = lt.client.lobby.getOrCreate(["a"]).connect();
    second.on("joined", (n: number) => late.push(n));
    await until(() => late.length === 1 && joined.length === 2, SLOW_MS);
    expect(late).toEqual([2]);
    expect(joined).toEqual([1, 2]);
    await second.dispose();
    await conn.dispose();
  });

  test("a malformed or oversized subs list refuses init with a clear error", async () => {
    lt = await serve(target, lobbies);
    const query = { name: "lobby", key: ["b"], mode: "getOrCreate" };
    for (const [subs, message] of [
      ["joined", '"subs" in init must be an array of event names.'],
      [[1], '"subs" in init must be an array of event names.'],
      [Array.from({ length: 257 }, (_, i) => `e${i}`), "at most 256 event names"],
      [["x".repeat(257)], "at most 256 characters"],
    ] as const) {
      const ws = new WebSocket(`${lt.endpoint.replace(/^http/, "ws")}/actors/connect`);
      const frames: any[] = [];
      ws.on("message", (data) => frames.push(JSON.parse(data.toString())));
      const closed = new Promise<number>((r) => ws.on("close", (code) => r(code)));
      await new Promise((r) => ws.once("open", r));
      ws.send(JSON.stringify({ t: "init", actor: query, subs }));
      expect(await closed).toBe(4001);
      expect(frames[0].error.code).toBe("invalid_request");
      expect(frames[0].error.message).toContain(message);
    }
    // Nothing was connected by the refused ones.
    expect(await lt.client.lobby.getOrCreate(["b"]).joins()).toBe(0);
  });
});
