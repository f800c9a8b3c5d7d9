// handle.webSocket() from troupe/client: code written the spec's way (listener added right after
// `await handle.webSocket(...)`) receives what the actor sends as soon as the socket opens, on
// Node and on workerd, including what the handler's "open" listener sends.
import { waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { rawSocketRegistry } from "./fixtures/spec-examples/actors.js";
import { type Served, serve, TARGETS } from "./spec-targets.js";

const registry = rawSocketRegistry();
let t: Served<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe.each(TARGETS)("handle.webSocket() on %s", (target) => {
  test("a listener added after the await receives the messages sent on open", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
    const expected = ["hello from onWebSocket", "hello from open", "echo ping"];
    for (let i = 0; i < 10; i++) {
      const ws = await t.client.greeter.getOrCreate(["g"]).webSocket("/");
      const got: string[] = [];
      ws.addEventListener("message", (event) => got.push(String(event.data)));
      ws.send("ping");
      await waitFor(() => got.length >= expected.length, { timeout: 60_000 });
      expect(got).toEqual(expected);
      ws.close();
    }
  });
});
