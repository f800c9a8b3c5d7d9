/**
 * On the file driver the next storage batch is written while the one before is still being
 * synced. A reply still leaves only once its own batch, and every batch before it, is durable:
 * the log writes are held here and released out of order to show it on a real connection.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { actor, setup } from "../src/index.js";
import { setupTest, type TestRuntime, waitFor } from "../src/test/index.js";
import { gateLogWrites } from "./gated-log.js";
import { openRaw } from "./protocol-client.js";

const counter = actor({
  state: { count: 0 },
  actions: { add: (c, amount: number) => (c.state.count += amount) },
});
const registry = setup({ use: { counter } });

let t: TestRuntime<typeof registry> | undefined;
let dir: string | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

it("sends no reply before its own batch and every batch before it are durable, when batches overlap", async () => {
  dir = mkdtempSync(join(tmpdir(), "troupe-overlap-"));
  t = await setupTest(registry, { storage: { driver: "file", path: dir } });
  const conn = await openRaw(t.endpoint);
  conn.send({ t: "init", actor: { name: "counter", key: ["a"], mode: "getOrCreate" } });
  await conn.next((m) => m.t === "welcome");
  conn.send({ t: "action", id: 1, name: "add", args: [1] });
  await conn.next((m) => m.t === "result" && m.id === 1);

  const gate = gateLogWrites(t.engine.driver);
  conn.send({ t: "action", id: 2, name: "add", args: [10] });
  const first = await gate.writeOf('"count":11');
  // Sent while the first batch syncs: its batch is written next to it.
  conn.send({ t: "action", id: 3, name: "add", args: [100] });
  const second = await gate.writeOf('"count":111');

  // The second batch is durable first. Neither reply may leave yet: the second one's state
  // builds on the first batch, which is not durable.
  await second.release();
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  conn.send({ t: "nonsense" }); // a round trip: anything sent before its answer has arrived
  await conn.next((m) => m.t === "error" && m.error.code === "unknown_message_type");
  expect(conn.messages.filter((m) => m.t === "result")).toEqual([]);

  await first.release();
  const two = await conn.next((m) => m.t === "result" && m.id === 2);
  const three = await conn.next((m) => m.t === "result" && m.id === 3);
  expect([two.output, three.output]).toEqual([11, 111]);
  await waitFor(() => expect(t!.engine.committer.stats.overlapMs).toBeGreaterThan(0));
});
