// @vitest-environment happy-dom
// In a browser, a connection waiting out its reconnect backoff retries at once when the browser
// comes back online or the tab becomes visible again, instead of after the (long) wait. On Node
// and on workerd, the line to either cut by a TCP proxy.
import { createClient } from "troupe/client";
import { startTcpProxy, type TcpProxy } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { clientWakeRegistry } from "./fixtures/suites/client-wake.js";
import { type Served, serve, TARGETS, type TargetName } from "./spec-targets.js";
import { until } from "./support.js";

/** Far below the 60 s backoff, far above a reconnect on a busy machine. */
const RECONNECT_WAIT = 15_000;
const registry = clientWakeRegistry();
let t: Served<typeof registry> | undefined;
let proxy: TcpProxy | undefined;
/** Codes the connection reported through onError. */
let reported: string[] = [];

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await t?.close();
  t = undefined;
  const codes = reported;
  reported = [];
  expect(codes.filter((code) => code !== "network_error")).toEqual([]);
});

/** A connection through a proxy that the test cuts, with a backoff far longer than the test. */
async function waitingConnection(target: TargetName, key: string) {
  t = await serve(target, registry, { clock: "system" });
  const endpoint = new URL(t.endpoint);
  proxy = await startTcpProxy("127.0.0.1", Number(endpoint.port));
  const client = createClient<typeof registry>(
    `http://127.0.0.1:${proxy.port}${endpoint.pathname}`,
  );
  const conn = client.counter
    .getOrCreate([key])
    .connect({ reconnectInitialDelay: 60_000, reconnectMaxDelay: 60_000 });
  // The cut is an outage the connection may report (once) while it retries: whether its first
  // attempt fails before the proxy is restored depends on the machine's timing. Nothing else
  // may be reported.
  conn.onError((err) => reported.push(err.code));
  await until(() => conn.status === "connected", 60_000, "the first connect");
  await proxy.cut();
  await until(() => conn.status === "connecting", RECONNECT_WAIT, "the cut to be seen");
  // Let the attempt that the cut started fail, so the connection sits in its 60 s backoff.
  await new Promise((r) => setTimeout(r, 300));
  await proxy.restore();
  return conn;
}

// On workerd the actors outlive a test (one process per file): each test uses a key of its own.
describe.each(TARGETS)("waking a waiting connection on %s", (target) => {
  test("the browser's online event ends the backoff wait", { timeout: 120_000 }, async () => {
    const conn = await waitingConnection(target, "online");
    await new Promise((r) => setTimeout(r, 300));
    expect(conn.status).toBe("connecting"); // still waiting: the backoff is 60 s
    window.dispatchEvent(new Event("online"));
    await until(() => conn.status === "connected", RECONNECT_WAIT, "a reconnect after the event");
    expect(await conn.increment(1)).toBe(1);
    await conn.dispose();
  });

  test("the tab becoming visible again ends the backoff wait", { timeout: 60_000 }, async () => {
    const conn = await waitingConnection(target, "visible");
    document.dispatchEvent(new Event("visibilitychange"));
    await until(() => conn.status === "connected", RECONNECT_WAIT, "a reconnect after the event");
    await conn.dispose();
    // A disposed connection no longer listens.
    window.dispatchEvent(new Event("online"));
    expect(conn.status).toBe("disconnected");
  });
});
