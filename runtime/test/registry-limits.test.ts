// Registry-wide limits a deployment turns on in setup(): live actors per registry (idle actors are
// put to sleep first; refused only when none can sleep) and WebSocket connections per client
// address (the socket's address, or X-Forwarded-For behind a trusted proxy). Off by default.
import { actor, setup } from "troupe";
import { captureLogger, setupTest, waitFor } from "troupe/test";
import { describe, expect, test } from "vitest";
import WebSocket from "ws";
import { connectRaw, openRaw } from "./protocol-client.js";

const slept: string[] = [];
const awake = { now: 0, most: 0 };
const counter = actor({
  state: { count: 0 },
  onWake: () => {
    awake.most = Math.max(awake.most, ++awake.now);
  },
  onSleep: (c) => {
    awake.now--;
    slept.push(c.key.join("/"));
  },
  actions: { increment: (c) => ++c.state.count },
});
const pinned = actor({ state: {}, actions: { ping: () => "pong" }, options: { noSleep: true } });

const q = (key: string) => ({ name: "counter", key: [key], mode: "getOrCreate" });

async function post(endpoint: string, key: string, name = "counter") {
  const res = await fetch(
    `${endpoint}/actors/action/${name === "counter" ? "increment" : "ping"}`,
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ actor: { name, key: [key], mode: "getOrCreate" }, args: [] }),
    },
  );
  return { status: res.status, header: res.headers.get("x-troupe-error"), json: await res.json() };
}

/** Opens a socket and resolves with the HTTP status of a refused upgrade, or "open". */
function tryUpgrade(endpoint: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(`${endpoint.replace(/^http/, "ws")}/actors/connect`, { headers });
  return new Promise<{ ws: WebSocket; result: number | "open"; body?: string }>((resolve) => {
    ws.once("open", () => resolve({ ws, result: "open" }));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve({ ws, result: res.statusCode ?? 0, body }));
    });
    ws.once("error", () => {});
  });
}

describe("maxLiveActors", () => {
  test("at the cap, the actor idle the longest sleeps to make room, and keeps its state", async (ctx) => {
    slept.length = 0;
    const logger = captureLogger();
    const t = await setupTest(ctx, setup({ use: { counter, pinned }, logger, maxLiveActors: 2 }));
    expect((await post(t.endpoint, "a")).json.output).toBe(1);
    expect((await post(t.endpoint, "b")).json.output).toBe(1);
    expect((await post(t.endpoint, "c")).json.output).toBe(1); // a (idle longest) made room
    expect(slept).toEqual(["a"]);
    expect(t.engine.placement.liveCount).toBe(2);
    expect((await post(t.endpoint, "a")).json.output).toBe(2); // state kept through the sleep
    expect(slept).toEqual(["a", "b"]);
    expect(t.engine.placement.liveCount).toBe(2);
  });

  test("when no actor can sleep, new ones are refused: HTTP 503 and WebSocket 4001 too_many_actors", async (ctx) => {
    slept.length = 0;
    const logger = captureLogger();
    const t = await setupTest(ctx, setup({ use: { counter, pinned }, logger, maxLiveActors: 2 }));
    // A connection keeps "a" awake; "p" never sleeps.
    const holder = await connectRaw(t.endpoint, q("a"));
    expect((await post(t.endpoint, "p", "pinned")).json.output).toBe("pong");
    const refused = await post(t.endpoint, "b");
    expect([refused.status, refused.header, refused.json.error.code]).toEqual([
      503,
      "too_many_actors",
      "too_many_actors",
    ]);
    expect(refused.json.error.message).toContain("maxLiveActors");
    const ws = await openRaw(t.endpoint);
    ws.send({ t: "init", actor: q("b") });
    expect((await ws.next((m) => m.t === "error")).error.code).toBe("too_many_actors");
    expect(await ws.closed).toEqual({ code: 4001, reason: "too_many_actors" });
    // Actors already awake still answer.
    holder.send({ t: "action", id: 1, name: "increment", args: [] });
    expect((await holder.next((m) => m.id === 1)).output).toBe(1);
    // Once "a" is idle again it can make room.
    holder.ws.close();
    await waitFor(async () => (await post(t.endpoint, "b")).status === 200);
    expect(slept).toEqual(["a"]);
    expect(logger.entries.filter((e) => e.level === "error")).toEqual([]);
  });

  test("many new actors at once never take the process past the cap", async (ctx) => {
    Object.assign(awake, { now: 0, most: 0 });
    const logger = captureLogger();
    const t = await setupTest(ctx, setup({ use: { counter }, logger, maxLiveActors: 3 }));
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => post(t.endpoint, `k${i}`)),
    );
    for (const r of replies) {
      // Loads in flight are busy: a call finding only those is refused, not queued.
      expect(r.status === 200 || r.json.error.code === "too_many_actors").toBe(true);
    }
    expect(replies.some((r) => r.status === 200)).toBe(true);
    expect(awake.most).toBeLessThanOrEqual(3);
    expect(t.engine.placement.liveCount).toBeLessThanOrEqual(3);
    // Sequential calls all succeed: each finds an idle actor to put to sleep.
    for (let i = 0; i < 6; i++) expect((await post(t.endpoint, `s${i}`)).status).toBe(200);
    expect(awake.most).toBeLessThanOrEqual(3);
  });
});

describe("maxLiveActors and the client", () => {
  test("a connect refused with too_many_actors is retried, and succeeds once room is made", async (ctx) => {
    const logger = captureLogger();
    const t = await setupTest(ctx, setup({ use: { counter }, logger, maxLiveActors: 1 }));
    const holder = await connectRaw(t.endpoint, q("a")); // keeps the only place busy
    // Count the refusals the server hands out (a spy on the real placement, nothing replaced).
    let refusals = 0;
    const placement = t.engine.placement;
    const get = placement.get.bind(placement);
    placement.get = async (query) => {
      try {
        return await get(query);
      } catch (err) {
        if ((err as { code?: string }).code === "too_many_actors") refusals++;
        throw err;
      }
    };
    const conn = t.client.counter.getOrCreate(["b"]).connect();
    ctx.onTestFinished(() => conn.dispose());
    await waitFor(() => refusals >= 2, { timeout: 20_000, what: "the client to try again" });
    holder.ws.close();
    expect(await conn.increment()).toBe(1);
    expect(conn.status).toBe("connected");
  });
});

describe("maxConnectionsPerAddress", () => {
  test("sockets past the cap from one address are refused with 429 too_many_connections", async (ctx) => {
    const t = await setupTest(ctx, setup({ use: { counter }, maxConnectionsPerAddress: 2 }));
    const first = await connectRaw(t.endpoint, q("a"));
    const silent = await openRaw(t.endpoint); // no init yet: it counts too
    const third = await tryUpgrade(t.endpoint);
    expect(third.result).toBe(429);
    expect(JSON.parse(third.body!).error.code).toBe("too_many_connections");
    // A closed socket frees its place.
    silent.ws.close();
    await waitFor(async () => {
      const attempt = await tryUpgrade(t.endpoint);
      attempt.ws.terminate();
      return attempt.result === "open";
    });
    first.ws.close();
  });

  test("X-Forwarded-For counts only with trustProxy; otherwise it cannot dodge the cap", async (ctx) => {
    const spoofed = await setupTest(ctx, setup({ use: { counter }, maxConnectionsPerAddress: 1 }));
    const one = await tryUpgrade(spoofed.endpoint, { "x-forwarded-for": "203.0.113.1" });
    expect(one.result).toBe("open");
    const two = await tryUpgrade(spoofed.endpoint, { "x-forwarded-for": "203.0.113.2" });
    expect(two.result).toBe(429);
    one.ws.close();

    const behindProxy = await setupTest(
      ctx,
      setup({ use: { counter }, maxConnectionsPerAddress: 1, trustProxy: true }),
    );
    // The proxy appends the address it saw: the last entry is the one to trust.
    const a = await tryUpgrade(behindProxy.endpoint, {
      "x-forwarded-for": "10.0.0.9, 203.0.113.1",
    });
    const b = await tryUpgrade(behindProxy.endpoint, { "x-forwarded-for": "203.0.113.2" });
    const aAgain = await tryUpgrade(behindProxy.endpoint, {
      "x-forwarded-for": "10.0.0.8, 203.0.113.1",
    });
    expect([a.result, b.result, aAgain.result]).toEqual(["open", "open", 429]);
    a.ws.close();
    b.ws.close();
  });

  test("off by default: many sockets from one address are accepted", async (ctx) => {
    const t = await setupTest(ctx, setup({ use: { counter } }));
    const conns = await Promise.all(
      Array.from({ length: 12 }, () => connectRaw(t.endpoint, q("a"))),
    );
    for (const c of conns) c.ws.close();
  });
});
