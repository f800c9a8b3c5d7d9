import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  appendFile,
  copyFile,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { gateLogWrites } from "../../../test/gated-log.js";
import { mountSmallDisk, type SmallDisk, smallDiskUnavailable } from "../../../test/tmpfs.js";
import { captureLogger } from "../../test/logger.js";
import { waitFor } from "../../test/wait.js";
import { runDriverConformance } from "../common.case.test.js";
import { type CommitBatch, emptyBatch } from "../driver.js";
import { openStorage } from "../open.js";
import { encodeFrame, LogCorruptedError } from "./format.js";
import { FileDriver, type FileDriverOptions, LOG_FILE } from "./index.js";
import { DirectoryLockedError } from "./lock.js";

const DRIVER_MODULE = fileURLToPath(new URL("./index.ts", import.meta.url));
const utf8 = (s: string) => new TextEncoder().encode(s);
const str = (v: Uint8Array | null | undefined) => (v ? Buffer.from(v).toString() : v);

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "troupe-file-driver-"));
}

function conformance(label: string, opts: FileDriverOptions) {
  runDriverConformance(label, async () => {
    const dir = await tempDir();
    return {
      driver: await FileDriver.open(dir, opts),
      reopen: () => FileDriver.open(dir, opts),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  });
}

conformance("file", {});
// Every value and state on disk (pread path), and compaction after nearly every write.
conformance("file (values on disk, constant compaction)", {
  inlineValueBytes: 0,
  compactMinBytes: 1,
  compactGarbageRatio: 0.01,
});

const batch = (parts: Partial<CommitBatch>): CommitBatch => ({ ...emptyBatch(), ...parts });

describe("FileDriver", () => {
  let dir: string;
  const open_: FileDriver[] = [];
  const children: ChildProcess[] = [];

  async function openDriver(opts: FileDriverOptions = {}): Promise<FileDriver> {
    const d = await FileDriver.open(dir, opts);
    open_.push(d);
    return d;
  }

  beforeEach(async () => {
    dir = await tempDir();
  });

  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
    for (const d of open_.splice(0)) await d.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function seed(d: FileDriver, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = `actor-${i}`;
      expect(await d.createActor({ id, name: "t", key: [`${i}`], createdAt: i, data: "{}" })).toBe(
        true,
      );
      ids.push(id);
    }
    return ids;
  }

  describe("recovery", () => {
    it("drops a torn tail (half a frame, then garbage) and keeps everything before it", async () => {
      const d = await openDriver();
      const [a] = await seed(d, 1);
      await d.commit(batch({ kvPuts: [{ actorId: a, key: utf8("k"), value: utf8("v1") }] }));
      await d.commit(batch({ states: [{ actorId: a, data: "s2" }] }));
      const goodSize = d.logBytes;
      await d.close();

      const frame = encodeFrame({
        ...batch({ states: [{ actorId: a, data: "lost" }] }),
        creates: [],
      });
      const logPath = join(dir, LOG_FILE);
      await appendFile(logPath, frame.subarray(0, Math.floor(frame.length / 2)));
      await appendFile(logPath, randomBytes(37));

      const warnings: string[] = [];
      const d2 = await openDriver({ onWarning: (m) => warnings.push(m) });
      expect((await d2.findActorById(a))?.data).toBe("s2");
      expect((await d2.kvGet(a, [utf8("k")])).map(str)).toEqual(["v1"]);
      expect((await stat(logPath)).size).toBe(goodSize);
      expect(warnings.join("\n")).toMatch(/troupe\.log/);

      // The log is usable again: new writes land after the cut and survive a reopen.
      await d2.commit(batch({ states: [{ actorId: a, data: "s3" }] }));
      await d2.close();
      const d3 = await openDriver();
      expect((await d3.findActorById(a))?.data).toBe("s3");
    });

    /** Three states ("one", "two", then a KV put); returns where the "two" frame starts. */
    async function threeFrames(): Promise<{ a: string; cut: number; fullSize: number }> {
      const d = await openDriver();
      const [a] = await seed(d, 1);
      await d.commit(batch({ states: [{ actorId: a, data: "one" }] }));
      const cut = d.logBytes;
      await d.commit(batch({ states: [{ actorId: a, data: "two" }] }));
      await d.commit(batch({ kvPuts: [{ actorId: a, key: utf8("k"), value: utf8("three") }] }));
      const fullSize = d.logBytes;
      await d.close();
      open_.splice(open_.indexOf(d), 1);
      return { a, cut, fullSize };
    }

    async function flipByte(at: number, mask = 0x40): Promise<void> {
      const fh = await open(join(dir, LOG_FILE), "r+");
      const byte = Buffer.alloc(1);
      await fh.read(byte, 0, 1, at);
      byte[0] ^= mask;
      await fh.write(byte, 0, 1, at);
      await fh.close();
    }

    it("refuses to open when valid frames follow a damaged one, saying where and what to do", async () => {
      const { cut, fullSize } = await threeFrames();
      await flipByte(cut + 12); // one payload byte of the frame holding "two"
      const before = await readFile(join(dir, LOG_FILE));

      const err = await FileDriver.open(dir).catch((e) => e);
      expect(err).toBeInstanceOf(LogCorruptedError);
      expect(err.message).toContain(join(dir, LOG_FILE));
      expect(err.message).toContain(`byte offset ${cut}`);
      expect(err.message).toMatch(/checksum mismatch/);
      // The "three" frame still verifies: one valid frame follows the damage.
      expect(err.message).toMatch(/1 valid frame \(\d+ bytes\) follows/);
      expect(err.message).toContain('onCorruption: "truncate"');
      expect(err.message).toContain("TROUPE_FILE_ON_CORRUPTION=truncate");
      expect(err).toMatchObject({ path: join(dir, LOG_FILE), offset: cut, validFramesAfter: 1 });
      expect(err.validBytesAfter).toBeGreaterThan(0);
      expect(err.validBytesAfter).toBeLessThan(fullSize - cut);
      // Nothing was touched, and the lock was released.
      expect(Buffer.compare(await readFile(join(dir, LOG_FILE)), before)).toBe(0);
      expect(await readdir(dir)).toEqual([LOG_FILE]);
    });

    it("finds the valid frames after a damaged length field too", async () => {
      const { cut } = await threeFrames();
      await flipByte(cut + 1, 0x01); // the frame's length, so its end is unknown
      const err = await FileDriver.open(dir).catch((e) => e);
      expect(err).toBeInstanceOf(LogCorruptedError);
      expect(err).toMatchObject({ offset: cut, validFramesAfter: 1 });
    });

    it('with onCorruption: "truncate", cuts at the damage and keeps the cut-off bytes aside', async () => {
      const { a, cut, fullSize } = await threeFrames();
      await flipByte(cut + 12);

      const warnings: string[] = [];
      const d2 = await openDriver({
        onCorruption: "truncate",
        onWarning: (m) => warnings.push(m),
      });
      expect((await d2.findActorById(a))?.data).toBe("one");
      expect(await d2.kvGet(a, [utf8("k")])).toEqual([null]);
      expect(d2.logBytes).toBe(cut);
      expect(warnings.join("\n")).toMatch(/checksum mismatch/);
      expect(warnings.join("\n")).toMatch(/1 valid frame/);

      // The cut-off bytes were kept aside, not thrown away.
      const aside = (await readdir(dir)).filter((f) => f.startsWith(`${LOG_FILE}.corrupt-`));
      expect(aside).toHaveLength(1);
      expect((await stat(join(dir, aside[0]))).size).toBe(fullSize - cut);

      // New writes go after the cut, and the next plain open accepts the repaired log.
      await d2.commit(batch({ states: [{ actorId: a, data: "four" }] }));
      await d2.close();
      const d3 = await openDriver();
      expect((await d3.findActorById(a))?.data).toBe("four");
    });

    it("openStorage takes onCorruption from its option or TROUPE_FILE_ON_CORRUPTION", async () => {
      const { a, cut } = await threeFrames();
      await flipByte(cut + 12);
      await expect(openStorage({ driver: "file", path: dir })).rejects.toThrow(LogCorruptedError);
      await expect(
        openStorage({ driver: "file", path: dir, onCorruption: "sometimes" as "truncate" }),
      ).rejects.toThrow(/onCorruption must be "refuse" or "truncate"/);

      const saved = process.env.TROUPE_FILE_ON_CORRUPTION;
      process.env.TROUPE_FILE_ON_CORRUPTION = "truncate";
      try {
        const logger = captureLogger();
        const d = (await openStorage({ driver: "file", path: dir }, logger)) as FileDriver;
        open_.push(d);
        expect((await d.findActorById(a))?.data).toBe("one");
        // The driver's warnings go to the logger it was given (the registry's).
        expect(logger.find("warn", "checksum mismatch")?.fields).toMatchObject({
          component: "file-driver",
          dir,
        });
      } finally {
        if (saved === undefined) delete process.env.TROUPE_FILE_ON_CORRUPTION;
        else process.env.TROUPE_FILE_ON_CORRUPTION = saved;
      }
    });

    it("still drops a damaged last frame followed by garbage only, as a torn tail", async () => {
      const { a, fullSize } = await threeFrames();
      // Damage the last frame ("three"): nothing valid follows it, so this is a torn write.
      await flipByte(fullSize - 3);
      await appendFile(join(dir, LOG_FILE), randomBytes(300));
      const warnings: string[] = [];
      const d2 = await openDriver({ onWarning: (m) => warnings.push(m) });
      expect((await d2.findActorById(a))?.data).toBe("two");
      expect(await d2.kvGet(a, [utf8("k")])).toEqual([null]);
      expect(warnings.join("\n")).toMatch(/checksum mismatch/);
    });

    it("refuses to open a file that is not a troupe log, and leaves it alone", async () => {
      const logPath = join(dir, LOG_FILE);
      await writeFile(logPath, "this is somebody else's file\n");
      await expect(FileDriver.open(dir)).rejects.toThrow(/not a troupe log/);
      expect(await readFile(logPath, "utf8")).toBe("this is somebody else's file\n");
      // A failed open releases the lock.
      expect((await readdir(dir)).sort()).toEqual([LOG_FILE]);
    });

    it("treats the preallocated zeros left by a crash as the end of the log", async () => {
      const d = await openDriver();
      const [a] = await seed(d, 1);
      await d.commit(batch({ states: [{ actorId: a, data: "s1" }] }));
      await d.commit(batch({ kvPuts: [{ actorId: a, key: utf8("k"), value: utf8("v") }] }));
      const logical = d.logBytes;
      // The file of a live driver is what a crash leaves: frames, then zeros written ahead.
      const crashed = await tempDir();
      await copyFile(join(dir, LOG_FILE), join(crashed, LOG_FILE));
      expect((await stat(join(crashed, LOG_FILE))).size).toBeGreaterThan(logical + 1024 * 1024);

      const warnings: string[] = [];
      const d2 = await FileDriver.open(crashed, { onWarning: (m) => warnings.push(m) });
      try {
        expect((await d2.findActorById(a))?.data).toBe("s1");
        expect((await d2.kvGet(a, [utf8("k")])).map(str)).toEqual(["v"]);
        expect(d2.logBytes).toBe(logical);
        expect(warnings).toEqual([]);
        await d2.commit(batch({ states: [{ actorId: a, data: "s2" }] }));
      } finally {
        await d2.close();
      }
      // A clean close trims the zeros; the new frame went right after the old ones.
      expect((await stat(join(crashed, LOG_FILE))).size).toBeGreaterThan(logical);
      const d3 = await FileDriver.open(crashed);
      expect((await d3.findActorById(a))?.data).toBe("s2");
      expect((await stat(join(crashed, LOG_FILE))).size).toBe(d3.logBytes);
      await d3.close();
      await rm(crashed, { recursive: true, force: true });
    });

    it("drops a frame torn inside the preallocated zeros without calling it corruption", async () => {
      const d = await openDriver();
      const [a] = await seed(d, 1);
      await d.commit(batch({ states: [{ actorId: a, data: "kept" }] }));
      const logical = d.logBytes;
      const crashed = await tempDir();
      await copyFile(join(dir, LOG_FILE), join(crashed, LOG_FILE));
      // Half of the next frame reached the disk before the crash; the rest is still zeros.
      const frame = encodeFrame({
        ...batch({ states: [{ actorId: a, data: "lost" }] }),
        creates: [],
      });
      const fh = await open(join(crashed, LOG_FILE), "r+");
      await fh.write(frame, 0, Math.floor(frame.length / 2), logical);
      await fh.close();

      const warnings: string[] = [];
      const d2 = await FileDriver.open(crashed, { onWarning: (m) => warnings.push(m) });
      expect((await d2.findActorById(a))?.data).toBe("kept");
      expect(d2.logBytes).toBe(logical);
      expect(warnings.join("\n")).toMatch(/torn tail/);
      expect((await readdir(crashed)).filter((f) => f.includes("corrupt"))).toEqual([]);
      await d2.close();
      await rm(crashed, { recursive: true, force: true });
    });

    it("ignores the leftover of an interrupted compaction", async () => {
      const d = await openDriver();
      const [a] = await seed(d, 1);
      await d.commit(batch({ states: [{ actorId: a, data: "kept" }] }));
      await d.close();
      await writeFile(join(dir, `${LOG_FILE}.compact`), randomBytes(1000));
      const d2 = await openDriver();
      expect((await d2.findActorById(a))?.data).toBe("kept");
      expect(await readdir(dir)).not.toContain(`${LOG_FILE}.compact`);
    });
    describe("a crash while two writes overlapped", () => {
      /**
       * A log as a crash can leave it when the driver had two writes in flight: "kept" is
       * durable at `logical`; the first write in flight ("lost 1") did not reach the disk, or
       * only its first `firstBytes`; the second ("lost 2", issued while the first was being
       * synced, so it records the same base) did.
       */
      async function crashedBetweenOverlappingWrites(firstBytes: number) {
        const d = await openDriver();
        const [a] = await seed(d, 1);
        await d.commit(batch({ states: [{ actorId: a, data: "kept" }] }));
        const logical = d.logBytes;
        await d.close();
        open_.splice(open_.indexOf(d), 1);
        const frame = (data: string) =>
          encodeFrame({ ...batch({ states: [{ actorId: a, data }] }), creates: [] }, logical);
        const first = frame("lost 1");
        const second = frame("lost 2");
        const fh = await open(join(dir, LOG_FILE), "r+");
        await fh.write(Buffer.alloc(first.length + second.length + 4096), 0, undefined, logical);
        await fh.write(first, 0, firstBytes, logical);
        await fh.write(second, 0, second.length, logical + first.length);
        await fh.close();
        return { a, logical };
      }

      for (const [what, firstBytes] of [
        ["not at all", 0],
        ["half", 20],
      ] as const) {
        it(`opens as a torn tail when the first write reached the disk ${what}`, async () => {
          const { a, logical } = await crashedBetweenOverlappingWrites(firstBytes);
          const warnings: string[] = [];
          const d = await openDriver({ onWarning: (m) => warnings.push(m) });
          expect((await d.findActorById(a))?.data).toBe("kept");
          expect(d.logBytes).toBe(logical);
          expect(warnings.join("\n")).toMatch(/1 valid frame .* still in flight.*torn tail/);
          // The unacknowledged bytes are kept aside all the same.
          const aside = (await readdir(dir)).filter((f) => f.startsWith(`${LOG_FILE}.corrupt-`));
          expect(aside).toHaveLength(1);
          await d.commit(batch({ states: [{ actorId: a, data: "after" }] }));
          await d.close();
          const d2 = await openDriver();
          expect((await d2.findActorById(a))?.data).toBe("after");
        });
      }

      it("still refuses damage followed by a frame written after the damaged one was durable", async () => {
        const d = await openDriver();
        const [a] = await seed(d, 1);
        await d.commit(batch({ states: [{ actorId: a, data: "one" }] }));
        const cut = d.logBytes;
        await d.commit(batch({ states: [{ actorId: a, data: "two" }] }));
        const afterTwo = d.logBytes;
        await d.commit(batch({ states: [{ actorId: a, data: "three" }] }));
        await d.close();
        open_.splice(open_.indexOf(d), 1);
        // Damage the "two" frame; the "three" frame records a base past it: "two" was durable.
        const fh = await open(join(dir, LOG_FILE), "r+");
        await fh.write(Buffer.alloc(afterTwo - cut), 0, undefined, cut);
        await fh.close();
        const err = await FileDriver.open(dir).catch((e) => e);
        expect(err).toBeInstanceOf(LogCorruptedError);
        expect(err).toMatchObject({ offset: cut, validFramesAfter: 1 });
      });
    });
  });

  describe("overlapping writes", () => {
    /** A driver whose log writes the test releases (or fails) one by one. */
    async function gatedDriver() {
      const d = await openDriver();
      const [a, b] = await seed(d, 2);
      await d.commit(batch({ states: [{ actorId: a, data: "start" }] }));
      return { d, a: a!, b: b!, ...gateLogWrites(d) };
    }

    /** Tracks a promise's outcome without awaiting it. */
    function watch<T>(p: Promise<T>) {
      const w = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
      p.then(
        (v) => {
          w.settled = true;
          w.value = v;
        },
        (e) => {
          w.settled = true;
          w.error = e;
        },
      );
      return w;
    }

    it("issues the next commit while one is syncing, and answers each only once every write before it is durable", async () => {
      const { d, a, b, writeOf } = await gatedDriver();
      const first = watch(d.commit(batch({ states: [{ actorId: a, data: "first" }] })));
      const firstWrite = await writeOf("first");
      const second = watch(d.commit(batch({ states: [{ actorId: b, data: "second" }] })));
      // Issued while the first is still in flight: the two writes overlap.
      const secondWrite = await writeOf("second");

      // The second is on disk first: it must neither answer nor show before the first does.
      await secondWrite.release();
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      expect(second.settled).toBe(false);
      expect((await d.findActorById(b))?.data).toBe("{}");

      firstWrite.release();
      await waitFor(() => expect(second.settled).toBe(true));
      expect(first).toMatchObject({ settled: true, error: undefined });
      expect(second.error).toBeUndefined();
      expect((await d.findActorById(a))?.data).toBe("first");
      expect((await d.findActorById(b))?.data).toBe("second");
      await d.close();
      const d2 = await openDriver();
      expect((await d2.findActorById(a))?.data).toBe("first");
      expect((await d2.findActorById(b))?.data).toBe("second");
    });

    it("fails the commits issued or handed over after a failed write too, leaving no trace of any", async () => {
      const { d, a, b, writeOf } = await gatedDriver();
      const logical = d.logBytes;
      const first = watch(d.commit(batch({ states: [{ actorId: a, data: "first" }] })));
      const firstWrite = await writeOf("first");
      const second = watch(d.commit(batch({ states: [{ actorId: b, data: "second" }] })));
      const secondWrite = await writeOf("second");
      // Both slots are taken: this commit and this create wait in the queue.
      const third = watch(d.commit(batch({ states: [{ actorId: a, data: "third" }] })));
      const created = watch(
        d.createActor({ id: "fresh", name: "t", key: ["fresh"], createdAt: 5, data: "{}" }),
      );

      await secondWrite.release(); // on disk, but written on top of the first
      firstWrite.fail(Object.assign(new Error("EIO: i/o error"), { code: "EIO" }));
      await waitFor(() => expect(third.settled).toBe(true));
      expect(first.error).toBeInstanceOf(Error);
      expect(String(first.error)).toMatch(/writing to .* failed: Error: EIO/);
      expect(String(second.error)).toMatch(/an earlier write to .* failed/);
      expect(String(third.error)).toMatch(/an earlier write to .* failed/);
      expect((await d.findActorById(a))?.data).toBe("start");
      expect((await d.findActorById(b))?.data).toBe("{}");
      expect(d.logBytes).toBe(logical);

      // The create was not built on the failed commit: it goes on, after the cut.
      await (await writeOf("fresh")).release();
      await waitFor(() => expect(created.settled).toBe(true));
      expect(created.value).toBe(true);
      await d.close();
      const d2 = await openDriver();
      expect((await d2.findActorById(a))?.data).toBe("start");
      expect((await d2.findActorById(b))?.data).toBe("{}");
      expect(await d2.findActorByKey("t", ["fresh"])).toMatchObject({ id: "fresh" });
    });
  });

  describe("compaction", () => {
    it("shrinks the log and keeps every live record, value and alarm", async () => {
      const opts = { compactMinBytes: 256 * 1024, compactGarbageRatio: 0.5 };
      const d = await openDriver({ ...opts, compactMinBytes: Number.MAX_SAFE_INTEGER });
      const ids = await seed(d, 20);
      const big = randomBytes(20_000);
      for (let round = 0; round < 30; round++) {
        await d.commit(
          batch({
            states: ids.map((id) => ({ actorId: id, data: `{"round":${round}}` })),
            kvPuts: ids.flatMap((id, i) => [
              { actorId: id, key: utf8("counter"), value: utf8(`${round}`) },
              {
                actorId: id,
                key: utf8(`big`),
                value: round === 29 && i === 3 ? big : randomBytes(9000),
              },
            ]),
            alarms: [{ actorId: ids[round % 20], at: 1000 + round }],
          }),
        );
      }
      await d.commit(
        batch({
          destroyed: [ids[0]],
          kvDeletes: [{ actorId: ids[1], key: utf8("counter") }],
          alarms: [{ actorId: ids[10], at: null }],
        }),
      );
      const before = d.logBytes;
      expect(before).toBeGreaterThan(5_000_000);
      const expectState = async (drv: FileDriver) => {
        expect(await drv.findActorById(ids[0])).toBeUndefined();
        for (const [i, id] of ids.entries()) {
          if (i === 0) continue;
          expect((await drv.findActorById(id))?.data).toBe('{"round":29}');
          expect((await drv.kvGet(id, [utf8("counter")])).map(str)).toEqual([
            i === 1 ? null : "29",
          ]);
          expect((await drv.kvGet(id, [utf8("big")]))[0]?.byteLength).toBe(i === 3 ? 20_000 : 9000);
        }
        const [v] = await drv.kvGet(ids[3], [utf8("big")]);
        expect(Buffer.compare(v!, big)).toBe(0);
        const alarms = await drv.listAlarms();
        expect(alarms.map((a) => a.actorId)).not.toContain(ids[10]);
        expect(alarms.map((a) => a.actorId)).not.toContain(ids[0]);
        expect(alarms).toHaveLength(18);
        expect(alarms[0]).toEqual({ actorId: ids[11], at: 1011 });
      };
      await expectState(d);

      await d.compact();
      const after = d.logBytes;
      expect(after).toBeLessThan(before / 10);
      expect((await stat(join(dir, LOG_FILE))).size).toBe(after);
      await expectState(d);

      // Writes after compaction go to the new file and survive a reopen.
      await d.commit(batch({ states: [{ actorId: ids[2], data: "post" }] }));
      await d.close();
      const d2 = await openDriver(opts);
      expect((await d2.findActorById(ids[2]))?.data).toBe("post");
      await d2.commit(batch({ states: [{ actorId: ids[2], data: '{"round":29}' }] }));
      await expectState(d2);
    });

    it("compacts by itself once the log passes the threshold with mostly garbage", async () => {
      const d = await openDriver({ compactMinBytes: 200_000, compactGarbageRatio: 0.5 });
      const [a] = await seed(d, 1);
      let maxSeen = 0;
      for (let i = 0; i < 200; i++) {
        await d.commit(
          batch({ kvPuts: [{ actorId: a, key: utf8("k"), value: randomBytes(5000) }] }),
        );
        maxSeen = Math.max(maxSeen, d.logBytes);
      }
      // Without compaction the log would be about 1 MB.
      expect(maxSeen).toBeLessThan(260_000);
      expect(d.logBytes).toBeLessThan(210_000);
      expect((await d.kvGet(a, [utf8("k")]))[0]?.byteLength).toBe(5000);
    });

    it("does not block reads of values in the old file during compaction", async () => {
      const d = await openDriver();
      const [a] = await seed(d, 1);
      const values = Array.from({ length: 40 }, () => randomBytes(50_000));
      await d.commit(
        batch({ kvPuts: values.map((value, i) => ({ actorId: a, key: utf8(`v${i}`), value })) }),
      );
      const keys = values.map((_, i) => utf8(`v${i}`));
      // Reads issued before, during and after the swap to the new file.
      let compacted = false;
      const compaction = d.compact().then(() => {
        compacted = true;
      });
      const reads: Promise<(Uint8Array | null)[]>[] = [];
      while (!compacted) {
        reads.push(d.kvGet(a, keys));
        await new Promise((r) => setImmediate(r));
      }
      reads.push(d.kvGet(a, keys));
      await compaction;
      expect(reads.length).toBeGreaterThan(2);
      for (const got of await Promise.all(reads)) {
        expect(got.map((v, i) => Buffer.compare(v!, values[i]))).toEqual(values.map(() => 0));
      }
    });
  });

  describe("lock", () => {
    it("refuses a second open of the same directory in this process", async () => {
      await openDriver();
      await expect(FileDriver.open(dir)).rejects.toThrow(DirectoryLockedError);
      await expect(FileDriver.open(dir)).rejects.toThrow(/already open in this process/);
    });

    it("refuses a directory held by another live process, and takes it over once it dies", async () => {
      const child = spawnNode(`
        import { FileDriver } from ${JSON.stringify(DRIVER_MODULE)};
        await FileDriver.open(process.env.DIR);
        console.log("open");
        setInterval(() => {}, 1000);
      `);
      children.push(child);
      await lineReader(child)((l) => l === "open");
      const err = await FileDriver.open(dir).catch((e) => e);
      expect(err).toBeInstanceOf(DirectoryLockedError);
      expect(String(err.message)).toContain(`process ${child.pid}`);

      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      const d = await openDriver();
      expect(await readFile(join(dir, "LOCK"), "utf8")).toBe(`${process.pid}\n`);
      await d.close();
      await expect(stat(join(dir, "LOCK"))).rejects.toThrow(/ENOENT/);
    });

    it("takes over a lock left by a pid that no longer exists", async () => {
      const gone = spawn(process.execPath, ["-e", "0"]);
      await new Promise((r) => gone.once("exit", r));
      await writeFile(join(dir, "LOCK"), `${gone.pid}\n`);
      const d = await openDriver();
      expect(await readFile(join(dir, "LOCK"), "utf8")).toBe(`${process.pid}\n`);
      expect(await d.listAlarms()).toEqual([]);
    });
  });

  it("survives SIGKILL mid-load with every acknowledged batch intact", async () => {
    const ACTORS = 8;
    const child = spawnNode(`
      import { FileDriver } from ${JSON.stringify(DRIVER_MODULE)};
      const d = await FileDriver.open(process.env.DIR);
      const ids = [];
      for (let i = 0; i < ${ACTORS}; i++) {
        ids.push("a" + i);
        await d.createActor({ id: "a" + i, name: "crash", key: [String(i)], createdAt: i, data: "{}" });
      }
      console.log("ready");
      const enc = new TextEncoder();
      let next = 1;
      // Four writers keep commits queued, so frames are also grouped under one fsync.
      const writer = async () => {
        for (;;) {
          const n = next++;
          await d.commit({
            states: ids.map((actorId) => ({ actorId, data: JSON.stringify({ n, pad: "x".repeat(200) }) })),
            kvPuts: ids.map((actorId, i) => ({
              actorId,
              key: enc.encode("b" + String(n).padStart(8, "0")),
              value: new Uint8Array(n % 7 === 0 && i === 0 ? 100000 : 64).fill(n % 256),
            })),
            kvDeletes: [], alarms: [{ actorId: ids[n % ${ACTORS}], at: n }], destroyed: [],
          });
          process.stdout.write(n + "\\n");
        }
      };
      for (let w = 0; w < 4; w++) writer();
    `);
    children.push(child);
    const acked: number[] = [];
    const readUntil = lineReader(child);
    await readUntil((l) => l === "ready");
    // Kill at a different point each run.
    const target = 100 + Math.floor(Math.random() * 400);
    const start = Date.now();
    await readUntil((l) => {
      acked.push(Number(l));
      return acked.length >= target || Date.now() - start > 4000;
    });
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(acked.length).toBeGreaterThan(20);

    const d = await openDriver();
    const ids = Array.from({ length: ACTORS }, (_, i) => `a${i}`);
    const present = (await d.kvList(ids[0], utf8("b"))).map((e) =>
      Number(Buffer.from(e.key).toString().slice(1)),
    );
    const max = Math.max(...present);
    // The log is a prefix: batches 1..max and nothing else.
    expect(present).toEqual(Array.from({ length: max }, (_, i) => i + 1));
    for (const n of acked) expect(present).toContain(n);
    // Every present batch is whole: all actors have it.
    for (const id of ids) {
      const keys = (await d.kvList(id, utf8("b"))).map((e) => Buffer.from(e.key).toString());
      expect(keys).toHaveLength(max);
      const data = JSON.parse((await d.findActorById(id))!.data);
      expect(data.n).toBe(max);
    }
    const [last] = await d.kvGet(ids[0], [utf8(`b${String(max).padStart(8, "0")}`)]);
    expect(last![0]).toBe(max % 256);
    expect(last!.byteLength).toBe(max % 7 === 0 ? 100000 : 64);
  });

  function spawnNode(code: string): ChildProcess {
    return spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      // tsx and the driver resolve from the runtime package, wherever the tests were started.
      cwd: join(import.meta.dirname, "../../.."),
      env: { ...process.env, DIR: dir },
      stdio: ["ignore", "pipe", "inherit"],
    });
  }
});

describe("FileDriver on a nearly full disk (a real 3 MiB tmpfs)", () => {
  let disk: SmallDisk;
  const drivers: FileDriver[] = [];

  beforeEach(async (ctx) => {
    const unavailable = await smallDiskUnavailable();
    if (unavailable) ctx.skip(unavailable);
    disk = await mountSmallDisk(3 * 1024 * 1024);
  });

  afterEach(async () => {
    for (const d of drivers.splice(0)) await d.close();
    await disk?.unmount();
    warnings.length = 0;
  });

  const warnings: string[] = [];

  async function openOnDisk(): Promise<FileDriver> {
    const d = await FileDriver.open(join(disk.dir, "data"), {
      onWarning: (m) => warnings.push(m),
    });
    drivers.push(d);
    return d;
  }

  it("falls back to a plain append when the 4 MiB zero preallocation does not fit", async () => {
    await disk.fill(2 * 1024 * 1024);
    const d = await openOnDisk();
    expect(await d.createActor({ id: "a", name: "t", key: ["a"], createdAt: 1, data: "{}" })).toBe(
      true,
    );
    // About 1 MB of commits, well within the 2 MB left.
    for (let i = 0; i < 20; i++) {
      await d.commit(
        batch({
          states: [{ actorId: "a", data: `{"n":${i}}` }],
          kvPuts: [{ actorId: "a", key: utf8(`k${i}`), value: randomBytes(50_000) }],
        }),
      );
    }
    await d.close();
    drivers.splice(0);
    const d2 = await openOnDisk();
    expect((await d2.findActorById("a"))?.data).toBe('{"n":19}');
    expect((await d2.kvList("a", utf8("k"))).length).toBe(20);
    expect(warnings[0]).toMatch(/appending without them.*ENOSPC|ENOSPC.*appending without them/);
  });

  it("fails a commit that does not fit, and keeps working once there is room again", async () => {
    const d = await openOnDisk();
    expect(await d.createActor({ id: "a", name: "t", key: ["a"], createdAt: 1, data: "{}" })).toBe(
      true,
    );
    await d.commit(batch({ states: [{ actorId: "a", data: "kept" }] }));
    const filler = await disk.fill(0);
    // Bigger than anything left, zeros written ahead included.
    await expect(
      d.commit(
        batch({
          states: [{ actorId: "a", data: "too big" }],
          kvPuts: [{ actorId: "a", key: utf8("big"), value: randomBytes(6 * 1024 * 1024) }],
        }),
      ),
    ).rejects.toThrow(/ENOSPC|no space/i);
    expect((await d.findActorById("a"))?.data).toBe("kept");
    await rm(filler);
    await d.commit(batch({ states: [{ actorId: "a", data: "after" }] }));
    await d.close();
    drivers.splice(0);
    const d2 = await openOnDisk();
    expect((await d2.findActorById("a"))?.data).toBe("after");
    expect(await d2.kvGet("a", [utf8("big")])).toEqual([null]);
  });
});

/** Reads a child's stdout line by line; throws if it ends first. */
function lineReader(child: ChildProcess): (until: (line: string) => boolean) => Promise<void> {
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return async (until) => {
    for (;;) {
      const next = await lines.next();
      if (next.done) throw new Error(`child ${child.pid} closed its output early`);
      if (until(next.value)) return;
    }
  };
}
