// Which actions have a connection (`c.conn`): client calls do, whatever their transport; alarms
// and trusted in-process calls (no params) do not, which is why `c.conn` is typed
// `Conn | undefined` (runtime/README.md, "Connections"). On Node and on workerd, where the app's
// trusted client is the Worker's env.TROUPE and the alarm is the Durable Object's.
import { waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import {
  ACTION_CONN_APP_PATH,
  actionConnRegistry,
  trustedCallers,
} from "./fixtures/suites/action-conn.js";
import { type Served, serve, TARGETS } from "./spec-targets.js";

const registry = actionConnRegistry();
let t: Served<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe.each(TARGETS)("c.conn in actions on %s", (target) => {
  test("a client over the network always has one, even without params", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry, { clock: "system" });
    const http = await t.client.who.getOrCreate(["w"]).caller();
    expect(http).toMatchObject({ hasConn: true, name: "anonymous", conns: 0 });
    const withParams = await t.client.who.getOrCreate(["w"], { params: { name: "ann" } }).caller();
    expect(withParams).toMatchObject({ hasConn: true, name: "ann", conns: 0 });

    const conn = t.client.who.getOrCreate(["w"], { params: { name: "bob" } }).connect();
    try {
      expect(await conn.caller()).toMatchObject({ hasConn: true, name: "bob", conns: 1 });
    } finally {
      await conn.dispose();
    }
  });

  test("a trusted in-process call has none; one with params runs the hooks and has one", async () => {
    t = await serve(target, registry, { clock: "system" });
    const seen = t.inProcess
      ? await trustedCallers(t.inProcess, "trusted")
      : await (await fetch(`${t.url}${ACTION_CONN_APP_PATH}?key=trusted`)).json();
    expect(seen).toEqual({
      plain: { hasConn: false },
      withParams: { hasConn: true, name: "server", conns: 0, id: expect.any(String) },
      relayed: { hasConn: false },
      relayedWithParams: { hasConn: true, name: "relay", conns: 0, id: expect.any(String) },
    });
  });

  test("a scheduled action has none", async () => {
    t = await serve(target, registry, { clock: "system" });
    const h = t.client.who.getOrCreate(["scheduled"]);
    await h.later();
    expect(await waitFor(() => h.alarm(), { timeout: 60_000, what: "the alarm" })).toEqual({
      hasConn: false,
    });
  });
});
