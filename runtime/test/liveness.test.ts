// Liveness: a peer that stopped answering is cut at once (no closing handshake), so the server
// neither waits 30 s on it holding the socket nor delays onDisconnect (the chat's presence "leave").
// Node only: Workers sends no liveness pings (the platform keeps sockets alive itself); a line cut
// under a connection is on both targets in connections-client.test.ts.
import { actor, setup } from "troupe";
import { captureLogger, setupTest, startTcpProxy, waitFor } from "troupe/test";
import { describe, expect } from "vitest";
import { connectRaw } from "./protocol-client.js";
import { nodeOnly, TARGETS } from "./spec-targets.js";

const events: string[] = [];
const room = actor({
  state: {},
  onConnect: (_c, conn) => {
    events.push(`join:${(conn.params as { name: string }).name}`);
  },
  onDisconnect: (_c, conn) => {
    events.push(`leave:${(conn.params as { name: string }).name}`);
  },
  actions: { ping: () => "pong" },
  options: { connectionLivenessInterval: 1000, connectionLivenessTimeout: 500 },
});
const q = { name: "room", key: ["r"], mode: "getOrCreate" };

describe.each(TARGETS)("liveness on %s", (target) => {
  nodeOnly(
    target,
    "Workers sends no liveness pings (the platform keeps sockets alive itself); the manual clock",
  )(
    "a frozen TCP peer: the server cuts the socket and runs onDisconnect when the check fails",
    async (ctx) => {
      const logger = captureLogger();
      const t = await setupTest(ctx, setup({ use: { room }, logger }));
      const proxy = await startTcpProxy("127.0.0.1", Number(new URL(t.url).port));
      ctx.onTestFinished(() => proxy.close());
      const frozen = await connectRaw(t.endpoint.replace(/:\d+\//, `:${proxy.port}/`), q, {
        name: "frozen",
      });
      const other = await connectRaw(t.endpoint, q, { name: "other" });
      proxy.freeze();
      for (let i = 0; i < 4 && !events.includes("leave:frozen"); i++) {
        await t.clock.advance(1000);
        await new Promise((r) => setTimeout(r, 20));
      }
      await waitFor(() => events.includes("leave:frozen"));
      expect(events).not.toContain("leave:other");
      // The proxy passes the server's close on to the client: it happens now, not after the 30 s a
      // graceful close waits for the peer's answer.
      let cut: { code: number } | undefined;
      void frozen.closed.then((c) => {
        cut = c;
      });
      await waitFor(() => cut, { timeout: 15_000, what: "the server to cut the frozen socket" });
      expect(cut!.code).toBe(1006);
      other.ws.close();
    },
  );
});
