// onWebSocket through the gateway, and skipReadyWait for raw requests and sockets, on Node and on
// workerd (where the Worker relays a raw socket to the actor's Durable Object).
import { waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { sleepsOf, websocketHandlerRegistry } from "./fixtures/suites/websocket-handler.js";
import { type Served, serve, TARGETS } from "./spec-targets.js";

const SLOW = { timeout: 60_000, interval: 50 };
const registry = websocketHandlerRegistry();
let t: Served<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

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

/**
 * Lets a second of the actor's sleepTimeout (1 s) pass several times over: Node steps the manual
 * clock, workerd waits it out in real time (the object's timers are the platform's).
 */
async function pastSleepTimeout(): Promise<void> {
  if (t!.clock) await t!.clock.advance(5000);
  else await new Promise((r) => setTimeout(r, 2500));
}

// On workerd the actors outlive a test (one process per file): each test uses keys of its own.
describe.each(TARGETS)("onWebSocket on %s", (target) => {
  test("the spec's chat: history on open, echo and stored messages", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
    const gw = await t.client.chat.getOrCreate(["my-chat"]).getGatewayUrl();
    const a = await open(`${gw.replace(/^http/, "ws")}/websocket/room?x=1`);
    expect(JSON.parse(await a.next())).toEqual({ type: "history", messages: [], path: "/room" });
    a.ws.send("hello");
    expect(await a.next()).toBe("hello");
    a.ws.close();
    const b = await open(`${gw.replace(/^http/, "ws")}/websocket/`);
    expect(JSON.parse(await b.next()).messages).toEqual(["hello"]);
    b.ws.close();
    expect(await t.client.chat.getOrCreate(["my-chat"]).messages()).toEqual(["hello"]);
  });

  test("an open raw socket keeps the actor awake; once it closes, the actor sleeps", async () => {
    t = await serve(target, registry);
    const gw = await t.client.chat.getOrCreate(["awake"]).getGatewayUrl();
    const a = await open(`${gw.replace(/^http/, "ws")}/websocket/`);
    expect(JSON.parse(await a.next()).messages).toEqual([]);
    await pastSleepTimeout();
    expect(await t.seen(sleepsOf("awake"))).toEqual([]);
    a.ws.close();
    // Once the server has seen the close, the sleep timeout runs out and the actor sleeps.
    await waitFor(
      async () => {
        await t!.clock?.advance(1001);
        return (await t!.seen(sleepsOf("awake"))).length === 1;
      },
      { ...SLOW, what: "the actor to sleep once its socket closed" },
    );
  });

  test("an actor without onWebSocket refuses the upgrade with 404", async () => {
    t = await serve(target, registry);
    const gw = await t.client.plain.getOrCreate(["p"]).getGatewayUrl();
    await expect(open(`${gw.replace(/^http/, "ws")}/websocket/`)).rejects.toThrow("HTTP 404");
  });

  test("skipReadyWait: raw requests and sockets reach an actor that is still starting", async () => {
    t = await serve(target, registry);
    const gate = t.client.gate.getOrCreate(["g"]);
    const h = t.client.slowStart.getOrCreate(["s"]);
    expect(await h.n()).toBe(0);
    const gw = await h.getGatewayUrl();
    await h.sleep();
    await waitFor(async () => (await t!.seen(sleepsOf("s"))).length === 1, {
      ...SLOW,
      what: "the actor to sleep",
    });
    await gate.arm(); // the next wake hangs in onWake until released
    const waiting = h.n();
    await waitFor(() => gate.holding(), { ...SLOW, what: "the next wake to reach onWake" });
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
    await gate.release();
    expect(await normal).toEqual({ n: 0 });
    expect(await waiting).toBe(0);
  });
});
