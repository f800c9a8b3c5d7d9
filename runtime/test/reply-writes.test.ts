/**
 * What reaches the wire on a connection: the replies that one storage batch releases together
 * (every action waiting on the same durable write) leave in one socket write, not one write and
 * one wake-up of the peer per reply. Counted on the server's end of a real connection.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { actor, setup } from "../src/index.js";
import { setupTest, type TestRuntime, waitFor } from "../src/test/index.js";
import { openRaw } from "./protocol-client.js";

const counter = actor({
  state: { count: 0 },
  actions: { increment: (c, amount: number) => (c.state.count += amount) },
});
const registry = setup({ use: { counter } });

const ACTIONS = 20;

/** Counts the socket writes (syscall-level: `_write` / `_writev`) on sockets bound to `port`. */
function countWritesOnPort(port: number) {
  const count = { writes: 0 };
  const proto = Socket.prototype as unknown as Record<"_write" | "_writev", (...a: any[]) => any>;
  for (const method of ["_write", "_writev"] as const) {
    const original = proto[method];
    vi.spyOn(proto, method).mockImplementation(function (this: Socket, ...args: any[]) {
      if (this.localPort === port) count.writes++;
      return original.apply(this, args);
    });
  }
  return count;
}

describe("replies on the wire", () => {
  let t: TestRuntime<typeof registry> | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await t?.close();
    t = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  for (const storage of ["memory", "file"] as const) {
    it(`sends the replies one batch releases in one socket write (${storage} driver)`, async () => {
      if (storage === "file") dir = mkdtempSync(join(tmpdir(), "troupe-reply-writes-"));
      t = await setupTest(registry, {
        storage: storage === "file" ? { driver: "file", path: dir } : "memory",
      });
      const conn = await openRaw(t.endpoint);
      conn.send({ t: "init", actor: { name: "counter", key: ["a"], mode: "getOrCreate" } });
      await conn.next((m) => m.t === "welcome");

      const {
        batches: batchesBefore,
        calls: callsBefore,
        writes: storedBefore,
      } = t.engine.committer.stats;
      const writes = countWritesOnPort(Number(new URL(t.url).port));
      // One client write, so the server reads the frames together and they share a batch.
      const clientSocket = (conn.ws as unknown as { _socket: Socket })._socket;
      clientSocket.cork();
      for (let id = 1; id <= ACTIONS; id++) {
        conn.send({ t: "action", id, name: "increment", args: [1] });
      }
      clientSocket.uncork();
      await waitFor(() => conn.messages.filter((m) => m.t === "result").length === ACTIONS, {
        what: `${ACTIONS} results`,
      });
      const outputs = conn.messages.filter((m) => m.t === "result").map((m) => m.output);
      expect(outputs).toEqual(Array.from({ length: ACTIONS }, (_, i) => i + 1));
      // One write per durable batch (a busy machine may split the frames into two reads).
      const batches = t.engine.committer.stats.batches - batchesBefore;
      expect(batches).toBeLessThan(ACTIONS / 2);
      expect(writes.writes).toBe(batches);
      // The actions that share a batch share one write: the state is serialized once per
      // batch, while every action's save is counted (the committer's signal that writes are
      // still arriving, and the bench's actions per batch).
      expect(t.engine.committer.stats.writes - storedBefore).toBe(batches);
      expect(t.engine.committer.stats.calls - callsBefore).toBe(ACTIONS);
      conn.ws.close();
    });
  }
});
