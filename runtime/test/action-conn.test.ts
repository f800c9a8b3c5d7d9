// Which actions have a connection (`c.conn`): client calls do, whatever their transport; alarms
// and trusted in-process calls (no params) do not, which is why `c.conn` is typed
// `Conn | undefined` (runtime/README.md, "Connections").
import { actor, setup } from "troupe";
import { setupTest, type TestRuntime, waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";

type Caller = { hasConn: false } | { hasConn: true; name: string; conns: number; id: string };

function callerOf(c: {
  conn: { id: string; state: { name: string } } | undefined;
  conns: Map<string, unknown>;
}): Caller {
  if (!c.conn) return { hasConn: false };
  return { hasConn: true, name: c.conn.state.name, conns: c.conns.size, id: c.conn.id };
}

const who = actor({
  state: { alarm: undefined as Caller | undefined },
  createConnState: (_c, params: { name?: string } | undefined): { name: string } => ({
    name: params?.name ?? "anonymous",
  }),
  actions: {
    caller: (c): Caller => callerOf(c),
    later: async (c) => {
      await c.schedule.after(0, "fromAlarm");
    },
    fromAlarm: (c) => {
      c.state.alarm = callerOf(c);
    },
    alarm: (c) => c.state.alarm,
  },
});

/** No connection hooks: calls other actors with `c.client()`, with or without params. */
const relay = actor({
  state: {},
  actions: {
    ask: (c, params?: { name: string }) =>
      c
        .client<typeof registry>()
        .who.getOrCreate(["w"], params ? { params } : {})
        .caller(),
  },
});

const registry = setup({ use: { who, relay } });
let t: TestRuntime<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe("c.conn in actions", () => {
  test("a client over the network always has one, even without params", async () => {
    t = await setupTest(registry, { clock: "system" });
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
    t = await setupTest(registry, { clock: "system" });
    const local = t.engine.client();
    expect(await local.who.getOrCreate(["w"]).caller()).toEqual({ hasConn: false });
    expect(
      await local.who.getOrCreate(["w"], { params: { name: "server" } }).caller(),
    ).toMatchObject({ hasConn: true, name: "server", conns: 0 });

    const relayed = local.relay.getOrCreate(["r"]);
    expect(await relayed.ask()).toEqual({ hasConn: false });
    expect(await relayed.ask({ name: "relay" })).toMatchObject({
      hasConn: true,
      name: "relay",
      conns: 0,
    });
  });

  test("a scheduled action has none", async () => {
    t = await setupTest(registry, { clock: "system" });
    const h = t.client.who.getOrCreate(["w"]);
    await h.later();
    expect(await waitFor(() => h.alarm(), { what: "the alarm" })).toEqual({ hasConn: false });
  });
});
