// Holds the file driver's log writes so a test decides when each one reaches the disk (in any
// order) or fails: for the rules of overlapping writes (a later write durable before an earlier
// one). Zeros written ahead of the log pass straight through; frames are held.
import type { FileHandle } from "node:fs/promises";
import { expect } from "vitest";
import type { StorageDriver } from "../src/storage/driver.js";
import { waitFor } from "../src/test/wait.js";

export interface HeldWrite {
  /** The frame bytes as latin1 text, to find a write by the data it carries. */
  text: string;
  /** Lets the write go; resolves once it is done (durable: the log is opened O_DSYNC). */
  release(): Promise<unknown>;
  fail(err: Error): void;
}

/**
 * Gates `driver`'s (a FileDriver's) log writes from now on. Commit something first, so the
 * zeros ahead of the log are in place.
 */
export function gateLogWrites(driver: StorageDriver) {
  const handle = (driver as unknown as { log: { handle: FileHandle } }).log.handle;
  const write = handle.write.bind(handle) as (...args: unknown[]) => Promise<unknown>;
  const held: HeldWrite[] = [];
  (handle as unknown as { write: unknown }).write = (...args: unknown[]) =>
    new Promise((resolve, reject) => {
      const buf = args[0] as Buffer;
      if (buf.every((byte) => byte === 0)) return write(...args).then(resolve, reject);
      held.push({
        text: buf.toString("latin1"),
        release: () => {
          const done = write(...args);
          done.then(resolve, reject);
          return done;
        },
        fail: reject,
      });
    });
  return {
    held,
    /** The held write whose frames carry `data`, once it is issued. */
    async writeOf(data: string): Promise<HeldWrite> {
      await waitFor(() => expect(held.some((h) => h.text.includes(data))).toBe(true));
      return held.find((h) => h.text.includes(data))!;
    },
  };
}
