// client.dispose() (RivetKit 2.3): closes every connection and raw WebSocket the client opened;
// later calls fail with client_disposed (on Node and on workerd). The client's reserved names
// cannot be actor names.
import { actor, setup } from "troupe";
import { type ActorError, createClient } from "troupe/client";
import { waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { clientDisposeRegistry, OPEN_LIST, openCounts } from "./fixtures/suites/client-dispose.js";
import { type Served, serve, TARGETS } from "./spec-targets.js";

/** The error a call fails with; a call that succeeds fails the test. */
function failure(call: Promise<unknown>): Promise<ActorError> {
  return call.then(
    (value) => {
      throw new Error(`Expected the call to fail, it returned ${JSON.stringify(value)}`);
    },
    (err) => err as ActorError,
  );
}

const registry = clientDisposeRegistry();
let t: Served<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** What the server has open, across the rooms (as their hooks recorded it). */
async function serverOpen(): Promise<{ conns: number; sockets: number }> {
  return openCounts(await t!.seen(OPEN_LIST));
}
const SLOW = { timeout: 60_000, interval: 50 };

// On workerd the actors outlive a test (one process per file): each test uses keys of its own.
describe.each(TARGETS)("client.dispose() on %s", (target) => {
  test("closes every connection and raw socket; later calls fail with client_disposed", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
    await t.clearSeen(OPEN_LIST);
    const client = createClient<typeof registry>(t.endpoint);
    const a = client.room.getOrCreate(["a"]);
    const b = client.room.getOrCreate(["b"]);
    const connA = a.connect();
    const connB = b.connect();
    expect(await connA.bump()).toBe(1);
    expect(await connB.bump()).toBe(1);
    const socket = await a.webSocket("/");
    await waitFor(
      async () => {
        const open = await serverOpen();
        return open.conns === 2 && open.sockets === 1;
      },
      { ...SLOW, what: "2 conns and 1 socket" },
    );

    await client.dispose();
    expect(connA.status).toBe("disconnected");
    expect(connB.status).toBe("disconnected");
    expect((await failure(connA.bump())).code).toBe("connection_disposed");
    await waitFor(
      async () => {
        const open = await serverOpen();
        return open.conns === 0 && open.sockets === 0;
      },
      { ...SLOW, what: "everything closed" },
    );
    await waitFor(() => socket.readyState === 3, { ...SLOW, what: "the raw socket closed" });

    for (const call of [
      a.bump(),
      a.resolve(),
      a.fetch("/"),
      a.webSocket("/"),
      client.room.getOrCreate(["c"]).bump(),
      client.room.create(["d"]),
      client.room.getForId("x").action({ name: "bump" }),
    ]) {
      const error = await failure(call);
      expect(error.code).toBe("client_disposed");
      expect(error.message).toMatch(/disposed/);
    }
    expect(() => b.connect()).toThrow(expect.objectContaining({ code: "client_disposed" }));
    await client.dispose(); // idempotent
    // The actors were never touched by the refused calls.
    expect(await t.client.room.getOrCreate(["c"]).bump()).toBe(1);
  });

  test("dispose() after connections and sockets ended by themselves is quiet", async () => {
    t = await serve(target, registry);
    await t.clearSeen(OPEN_LIST);
    const client = createClient<typeof registry>(t.endpoint);
    const conn = client.room.getOrCreate(["quiet"]).connect();
    expect(await conn.bump()).toBe(1);
    await conn.dispose();
    const socket = await client.room.getOrCreate(["quiet"]).webSocket("/");
    socket.close();
    await waitFor(
      async () => {
        const open = await serverOpen();
        return open.conns === 0 && open.sockets === 0;
      },
      { ...SLOW, what: "everything closed" },
    );
    await client.dispose();
  });

  test("the in-process client of c.client() is shared: its dispose() refuses, calls go on", async () => {
    t = await serve(target, registry);
    expect(await t.client.caller.getOrCreate(["c"]).disposeShared()).toEqual({
      code: "client_not_disposable",
      after: 1,
    });
  });
});

describe("reserved names", () => {
  test("setup() refuses an actor named like a client method", () => {
    for (const name of ["dispose", "then"]) {
      const room = actor({ state: {}, actions: {} });
      expect(() => setup({ use: { [name]: room } })).toThrow(
        `an actor cannot be named "${name}": the client reserves that name (dispose, then)`,
      );
    }
  });

  test("setup() refuses an action named like a handle's or a connection's own member", () => {
    // conn.status is the connection's status, handle.connect opens a connection: such an
    // action could never be called by name, so it is refused up front instead of ignored.
    for (const action of [
      "status",
      "connId",
      "onError",
      "notify",
      "dispose",
      "connect",
      "fetch",
      "then",
    ]) {
      const shadowed = actor({ state: {}, actions: { [action]: () => 1 } });
      expect(() => setup({ use: { shadowed } })).toThrow(
        `actor "shadowed" has an action named "${action}"`,
      );
    }
    expect(() =>
      setup({ use: { fine: actor({ state: {}, actions: { queueStatus: () => 1 } }) } }),
    ).not.toThrow();
  });
});
