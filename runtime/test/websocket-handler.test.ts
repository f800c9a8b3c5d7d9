// onWebSocket through the gateway, and skipReadyWait for raw requests and sockets.
import { actor, setup } from "troupe";
import { setupTest, type TestRuntime, waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import WebSocket from "ws";

let releaseWake: (() => void) | undefined;

const chat = actor({
  state: { messages: [] as string[] },
  onWebSocket: (c, websocket, { request }) => {
    websocket.addEventListener("open", () => {
      websocket.send(
        JSON.stringify({
          type: "history",
          messages: c.state.messages,
          path: new URL(request.url).pathname,
        }),
      );
    });
    websocket.addEventListener("message", (event) => {
      c.state.messages.push(event.data as string);
      websocket.send(event.data as string);
      c.saveState({ immediate: true });
    });
  },
  actions: { messages: (c) => c.state.messages },
  options: { sleepTimeout: 1000 },
});

const slowStart = actor({
  state: { n: 0 },
  onWake: async () => {
    if (releaseWake) return;
    await new Promise<void>((r) => {
      releaseWake = r;
    });
  },
  onRequest: (c) => Response.json({ n: c.state.n }),
  onWebSocket: (c, websocket) => {
    websocket.send(`n=${c.state.n}`);
  },
  actions: { n: (c) => c.state.n },
  options: { sleepTimeout: 1000 },
});

const plain = actor({ state: {}, actions: { ping: () => "pong" } });
const registry = setup({ use: { chat, slowStart, plain } });
let t: TestRuntime<typeof registry>;
afterEach(() => t?.close());

function open(url: string): Promise<{ ws: WebSocket; next: () => Promise<string> }> {
  const ws = new WebSocket(url);
  const queue: string[] = [];
  const waiters: ((m: string) => void)[] = [];
  ws.on("message", (d) => {
    const w = waiters.shift();
    if (w) w(d.toString());
    else queue.push(d.toString());
  });
  return new Promise((resolve, reject) => {
    ws.once("open", () =>
      resolve({
        ws,
        next: () =>
          queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r)),
      }),
    );
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

describe("onWebSocket", () => {
  test("the spec's chat: history on open, echo and stored messages", async () => {
    t = await setupTest(registry);
    const gw = await t.client.chat.getOrCreate(["my-chat"]).getGatewayUrl();
    const a = await open(`${gw.replace(/^http/, "ws")}/websocket/room?x=1`);
    expect(JSON.parse(await a.next())).toEqual({ type: "history", messages: [], path: "/room" });
    a.ws.send("hello");
    expect(await a.next()).toBe("hello");
    a.ws.close();
    const b = await open(`${gw.replace(/^http/, "ws")}/websocket/`);
    expect(JSON.parse(await b.next()).messages).toEqual(["hello"]);
    // An open raw socket keeps the actor awake.
    await t.clock.advance(5000);
    expect(t.engine.placement.liveCount).toBe(1);
    b.ws.close();
    // Once the server has seen the close, the sleep timeout runs out and the actor sleeps.
    await waitFor(
      async () => {
        await t.clock.advance(1001);
        return t.engine.placement.liveCount === 0;
      },
      { what: "the actor to sleep once its socket closed" },
    );
  });

  test("an actor without onWebSocket refuses the upgrade with 404", async () => {
    t = await setupTest(registry);
    const gw = await t.client.plain.getOrCreate(["p"]).getGatewayUrl();
    await expect(open(`${gw.replace(/^http/, "ws")}/websocket/`)).rejects.toThrow("HTTP 404");
  });
});

describe("skipReadyWait", () => {
  test("raw requests and sockets with skipReadyWait reach an actor that is still starting", async () => {
    t = await setupTest(registry);
    releaseWake = () => {}; // first start is quick
    const h = t.client.slowStart.getOrCreate(["s"]);
    expect(await h.n()).toBe(0);
    const gw = await h.getGatewayUrl();
    await t.clock.advance(1001); // it sleeps
    await waitFor(() => t.engine.placement.liveCount === 0, { what: "the actor to sleep" });
    releaseWake = undefined; // the next wake hangs in onWake until released
    const waiting = h.n();
    await waitFor(() => releaseWake, { what: "the next wake to reach onWake" });
    const skipped = await fetch(`${gw}/request/`, { headers: { "x-troupe-skip-ready-wait": "1" } });
    expect(await skipped.json()).toEqual({ n: 0 });
    const raw = await open(`${gw.replace(/^http/, "ws")}/websocket/?skipReadyWait=1`);
    expect(await raw.next()).toBe("n=0");
    raw.ws.close();
    let normalDone = false;
    const normal = fetch(`${gw}/request/`).then((r) => {
      normalDone = true;
      return r.json();
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(normalDone).toBe(false); // held until the actor is ready
    releaseWake!();
    expect(await normal).toEqual({ n: 0 });
    expect(await waiting).toBe(0);
  });
});
