// A small tmpfs for tests that need a real full disk (ENOSPC from the kernel, not a mock).
// Mounting needs root; where it is not permitted, `mountSmallDisk` says why so the test can
// skip with that reason (CI runs as root, so there it always runs).
import { execFile } from "node:child_process";
import { mkdtemp, open, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface SmallDisk {
  dir: string;
  /** Bytes still free on the file system. */
  free(): Promise<number>;
  /**
   * Writes a filler file until at most `leave` bytes are free; returns its path (delete it to
   * give the space back).
   */
  fill(leave: number): Promise<string>;
  unmount(): Promise<void>;
}

/** Why tmpfs cannot be mounted here, or null when it can. Checked once per process. */
let probe: Promise<string | null> | undefined;
export function smallDiskUnavailable(): Promise<string | null> {
  probe ??= (async () => {
    if (process.platform !== "linux") return "tmpfs mounts need Linux";
    if (process.getuid?.() !== 0) return "mounting a tmpfs needs root";
    try {
      const disk = await mountSmallDisk(64 * 1024);
      await disk.unmount();
      return null;
    } catch (err) {
      return `mount -t tmpfs is not permitted here: ${String(err)}`;
    }
  })();
  return probe;
}

export async function mountSmallDisk(bytes: number): Promise<SmallDisk> {
  const dir = await mkdtemp(join(tmpdir(), "troupe-small-disk-"));
  try {
    await run("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let fillers = 0;
  const free = async () => {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    free,
    async fill(leave) {
      const path = join(dir, `filler-${fillers++}`);
      const h = await open(path, "w");
      try {
        const block = Buffer.alloc(4096, 1);
        for (let room = await free(); room > leave; room -= block.length) {
          const n = Math.min(block.length, room - leave);
          await h.write(block, 0, n);
        }
      } finally {
        await h.close();
      }
      return path;
    },
    async unmount() {
      await run("umount", [dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
