/**
 * The group committer's batching rules, on the memory driver with a gate in front of `commit`
 * so a test decides when a batch becomes durable.
 */
import { describe, expect, it } from "vitest";
import { waitFor } from "../test/wait.js";
import { GroupCommitter, type GroupCommitterOptions } from "./commit.js";
import type { CommitBatch } from "./driver.js";
import { MemoryDriver } from "./memory/index.js";

class GatedDriver extends MemoryDriver {
  readonly batches: CommitBatch[] = [];
  private gates: (() => void)[] = [];
  failNext: Error | null = null;

  constructor(readonly maxCommitsInFlight = 1) {
    super();
  }

  override async commit(batch: CommitBatch): Promise<void> {
    this.batches.push(batch);
    await new Promise<void>((resolve) => this.gates.push(resolve));
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = null;
      throw err;
    }
    return super.commit(batch);
  }

  /** Lets the oldest waiting commit finish. */
  release(): void {
    this.gates.shift()?.();
  }

  get waiting(): number {
    return this.gates.length;
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const state = (data: string) => () => ({ data });

async function setup(options?: GroupCommitterOptions, maxCommitsInFlight = 1) {
  const driver = new GatedDriver(maxCommitsInFlight);
  for (const id of ["a", "b", "c"]) {
    await driver.createActor({ id, name: "t", key: [id], createdAt: 0, data: "{}" });
  }
  return { driver, committer: new GroupCommitter(driver, options) };
}

describe("GroupCommitter", () => {
  it("sends every write of one turn as one batch, serializing each actor once", async () => {
    const { driver, committer } = await setup();
    let serialized = 0;
    const counting = (data: string) => () => {
      serialized++;
      return { data };
    };
    const done = [
      committer.writeState("a", counting("1")),
      committer.writeState("b", counting("1")),
      committer.writeState("a", counting("2")),
    ];
    await turn();
    expect(driver.batches).toHaveLength(1);
    expect(driver.batches[0]!.states).toEqual([
      { actorId: "a", data: "2" },
      { actorId: "b", data: "1" },
    ]);
    expect(serialized).toBe(2);
    driver.release();
    await Promise.all(done);
    expect(committer.stats).toMatchObject({ batches: 1, writes: 2, calls: 3 });
  });

  it("collects writes made while a batch is in flight into the next batch", async () => {
    const { driver, committer } = await setup();
    const first = committer.writeState("a", state("1"));
    await turn();
    const second = [committer.writeState("b", state("1")), committer.writeState("c", state("1"))];
    await turn();
    await turn();
    expect(driver.batches).toHaveLength(1); // the second waits for the first
    driver.release();
    await first;
    await turn();
    expect(driver.batches).toHaveLength(2);
    expect(driver.batches[1]!.states.map((s) => s.actorId)).toEqual(["b", "c"]);
    driver.release();
    await Promise.all(second);
  });

  it("hands the next batch to the driver before the writers of the durable one hear back", async () => {
    const { driver, committer } = await setup();
    const first = committer.writeState("a", state("1"));
    await turn();
    const second = committer.writeState("b", state("1"));
    await turn();
    expect(driver.batches).toHaveLength(1);
    driver.release();
    // The first batch's writers resume with the second batch already with the driver, so the
    // disk is not idle while their replies are sent.
    await first;
    expect(driver.batches).toHaveLength(2);
    expect(driver.batches[1]!.states.map((s) => s.actorId)).toEqual(["b"]);
    driver.release();
    await second;
    expect(committer.stats).toMatchObject({ batches: 2, writes: 2, calls: 2 });
    expect(committer.stats.busyMs).toBeGreaterThan(0);
  });

  it("flush waits for the batch in flight, not only for queued writes", async () => {
    const { driver, committer } = await setup();
    const write = committer.writeState("a", state("1"));
    await turn();
    expect(driver.waiting).toBe(1);
    let flushed = false;
    const flush = committer.flush().then(() => {
      flushed = true;
    });
    await turn();
    expect(flushed).toBe(false);
    driver.release();
    await flush;
    await write;
    expect(flushed).toBe(true);
  });

  it("rejects the writers of a failed batch and goes on with the next one", async () => {
    const { driver, committer } = await setup();
    driver.failNext = new Error("disk on fire");
    const failed = committer.writeState("a", state("1"));
    await turn();
    const later = committer.writeState("b", state("1"));
    driver.release();
    await expect(failed).rejects.toMatchObject({
      code: "storage_error",
      cause: { message: "disk on fire" },
    });
    await turn();
    driver.release();
    await expect(later).resolves.toBeUndefined();
    expect(await driver.findActorById("b")).toMatchObject({ data: "1" });
    expect(await driver.findActorById("a")).toMatchObject({ data: "{}" });
  });

  it("names the failed batch's actors and drops what they queued meanwhile, never retrying", async () => {
    const failures: string[][] = [];
    const { driver, committer } = await setup({
      onBatchFailed: (ids) => failures.push([...ids].sort()),
    });
    const key = new Uint8Array([1]);
    driver.failNext = new Error("ENOSPC");
    const failed = [
      committer.writeState("a", state("lost")),
      committer.kvPut("b", key, new Uint8Array([9])),
    ];
    await turn();
    // Queued while the failing batch is in flight: a's and b's are built on the lost changes.
    const next = [
      committer.writeState("a", state("built on lost")),
      committer.kvDelete("b", key),
      committer.writeState("c", state("fine")),
    ];
    driver.release();
    for (const f of failed) await expect(f).rejects.toMatchObject({ code: "storage_error" });
    expect(failures).toEqual([["a", "b"]]);
    await turn();
    driver.release();
    await Promise.all(next);
    expect(driver.batches).toHaveLength(2);
    expect(driver.batches[1]).toMatchObject({
      states: [{ actorId: "c", data: "fine" }],
      kvPuts: [],
      kvDeletes: [],
    });
    expect(await driver.findActorById("a")).toMatchObject({ data: "{}" });
  });

  describe("with a driver that takes two batches at once", () => {
    it("hands over the next batch while one syncs, gathering the writes of a burst first", async () => {
      const { driver, committer } = await setup(undefined, 2);
      const first = committer.writeState("a", state("1"));
      await waitFor(() => expect(driver.batches).toHaveLength(1));
      const second = [committer.writeState("b", state("1"))];
      await turn();
      // Still arriving in the next turn: joins the same batch.
      second.push(committer.writeState("c", state("1")));
      await waitFor(() => expect(driver.batches).toHaveLength(2));
      expect(driver.waiting).toBe(2);
      expect(driver.batches[1]!.states.map((s) => s.actorId)).toEqual(["b", "c"]);
      // A third waits for a free slot.
      const third = committer.writeState("a", state("2"));
      for (let i = 0; i < 3; i++) await turn();
      expect(driver.batches).toHaveLength(2);
      driver.release();
      await first;
      await waitFor(() => expect(driver.batches).toHaveLength(3));
      driver.release();
      driver.release();
      await Promise.all([...second, third]);
      expect(committer.stats).toMatchObject({ batches: 3, writes: 4, calls: 4 });
      expect(committer.stats.overlapMs).toBeGreaterThan(0);
      expect(committer.stats.overlapMs).toBeLessThanOrEqual(committer.stats.busyMs);
    });

    it("names the actors of every batch the driver fails, the later one with the earlier", async () => {
      const failures: string[][] = [];
      const { driver, committer } = await setup(
        { onBatchFailed: (ids) => failures.push([...ids].sort()) },
        2,
      );
      const first = committer.writeState("a", state("lost"));
      await waitFor(() => expect(driver.batches).toHaveLength(1));
      const second = committer.writeState("b", state("built on lost"));
      await waitFor(() => expect(driver.batches).toHaveLength(2));
      // Queued on top of batches that will fail: dropped (the instance fails their callers).
      const queued = [
        committer.writeState("a", state("on top of a")),
        committer.writeState("b", state("on top of b")),
        committer.writeState("c", state("fine")),
      ];
      driver.failNext = new Error("EIO");
      driver.release();
      await expect(first).rejects.toMatchObject({ code: "storage_error" });
      expect(failures).toEqual([["a"]]);
      driver.failNext = new Error("an earlier write failed");
      driver.release();
      await expect(second).rejects.toMatchObject({ code: "storage_error" });
      expect(failures).toEqual([["a"], ["b"]]);
      await waitFor(() => expect(driver.batches).toHaveLength(3));
      driver.release();
      await Promise.all(queued);
      expect(driver.batches[2]!.states).toEqual([{ actorId: "c", data: "fine" }]);
      expect(await driver.findActorById("a")).toMatchObject({ data: "{}" });
      expect(await driver.findActorById("b")).toMatchObject({ data: "{}" });
    });
  });
});
