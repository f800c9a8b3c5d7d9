// @vitest-environment happy-dom
// In a browser, a connection waiting out its reconnect backoff retries at once when the browser
// comes back online or the tab becomes visible again, instead of after the (long) wait.
import { actor, setup } from "troupe";
import { createClient } from "troupe/client";
import { setupTest, startTcpProxy, type TcpProxy, type TestRuntime } from "troupe/test";
import { afterEach, expect, test } from "vitest";
import { until } from "./support.js";

const counter = actor({
  state: { count: 0 },
  actions: { increment: (c, by: number) => (c.state.count += by) },
});
const registry = setup({ use: { counter } });
let t: TestRuntime<typeof registry> | undefined;
let proxy: TcpProxy | undefined;
/** Codes the connection reported through onError. */
let reported: string[] = [];

afterEach(async () => {
  await proxy?.close();
  await t?.close();
  const codes = reported;
  reported = [];
  expect(codes.filter((code) => code !== "network_error")).toEqual([]);
});

/** A connection through a proxy that the test cuts, with a backoff far longer than the test. */
async function waitingConnection() {
  t = await setupTest(registry, { clock: "system" });
  proxy = await startTcpProxy("127.0.0.1", Number(new URL(t.endpoint).port));
  const client = createClient<typeof registry>(`http://127.0.0.1:${proxy.port}`);
  const conn = client.counter
    .getOrCreate(["wake"])
    .connect({ reconnectInitialDelay: 60_000, reconnectMaxDelay: 60_000 });
  // The cut is an outage the connection may report (once) while it retries: whether its first
  // attempt fails before the proxy is restored depends on the machine's timing. Nothing else
  // may be reported.
  conn.onError((err) => reported.push(err.code));
  await until(() => conn.status === "connected");
  await proxy.cut();
  await until(() => conn.status === "connecting");
  // Let the attempt that the cut started fail, so the connection sits in its 60 s backoff.
  await new Promise((r) => setTimeout(r, 300));
  await proxy.restore();
  return conn;
}

test("the browser's online event ends the backoff wait", async () => {
  const conn = await waitingConnection();
  await new Promise((r) => setTimeout(r, 300));
  expect(conn.status).toBe("connecting"); // still waiting: the backoff is 60 s
  window.dispatchEvent(new Event("online"));
  await until(() => conn.status === "connected", 3000, "a reconnect right after the event");
  expect(await conn.increment(1)).toBe(1);
  await conn.dispose();
});

test("the tab becoming visible again ends the backoff wait", async () => {
  const conn = await waitingConnection();
  document.dispatchEvent(new Event("visibilitychange"));
  await until(() => conn.status === "connected", 3000, "a reconnect right after the event");
  await conn.dispose();
  // A disposed connection no longer listens.
  window.dispatchEvent(new Event("online"));
  expect(conn.status).toBe("disconnected");
});
