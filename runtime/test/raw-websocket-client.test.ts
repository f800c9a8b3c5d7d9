// handle.webSocket() from troupe/client: code written the spec's way (listener added right after
// `await handle.webSocket(...)`) receives what the actor sends as soon as the socket opens.
import { actor, setup } from "troupe";
import { setupTest, type TestRuntime, waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";

const greeter = actor({
  state: { opened: 0 },
  onWebSocket: (c, websocket) => {
    c.state.opened++;
    // Sent in the handler itself, and in its "open" listener (the spec's chat does the latter).
    websocket.send("hello from onWebSocket");
    websocket.addEventListener("open", () => websocket.send("hello from open"));
    websocket.addEventListener("message", (event) => websocket.send(`echo ${event.data}`));
  },
  actions: {},
});

const registry = setup({ use: { greeter } });
let t: TestRuntime<typeof registry>;
afterEach(() => t?.close());

describe("handle.webSocket()", () => {
  test("a listener added after the await receives the messages sent on open", async () => {
    t = await setupTest(registry);
    for (let i = 0; i < 10; i++) {
      const ws = await t.client.greeter.getOrCreate(["g"]).webSocket("/");
      const got: string[] = [];
      ws.addEventListener("message", (event) => got.push(String(event.data)));
      ws.send("ping");
      await waitFor(() => got.length >= 3, { timeout: 10_000 });
      expect(got).toEqual(["hello from onWebSocket", "hello from open", "echo ping"]);
      ws.close();
    }
  });
});
