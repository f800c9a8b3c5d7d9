/**
 * The data directory lock: `dir/LOCK` holds the pid of the process that has the directory open.
 * Two processes appending to one log would interleave frames and corrupt it, so a second open
 * fails with a clear error instead.
 *
 * Node has no portable advisory file lock, so the lock is a file created atomically: the pid is
 * written to a private temp file which is then hard-linked to LOCK (link fails if LOCK exists,
 * and LOCK is never seen empty). A LOCK whose pid is no longer alive (the owner was killed) is
 * taken over: it is renamed away first, and only if the renamed file still names that dead pid
 * does the takeover proceed; otherwise another process got there first and its lock is put back.
 * Pids are per host (and per pid namespace): do not share one data directory between machines.
 */
import { randomBytes } from "node:crypto";
import { link, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

export class DirectoryLockedError extends Error {
  override name = "DirectoryLockedError";
}

export interface DirectoryLock {
  readonly path: string;
  release(): Promise<void>;
}

export async function acquireDirectoryLock(dir: string): Promise<DirectoryLock> {
  const lockPath = join(dir, "LOCK");
  const me = `${process.pid}\n`;
  const tmp = join(dir, `LOCK.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  await writeFile(tmp, me);
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await link(tmp, lockPath);
        return {
          path: lockPath,
          release: async () => {
            // Only remove the lock if it is still ours.
            const content = await readFile(lockPath, "utf8").catch(() => null);
            if (content === me) await unlink(lockPath).catch(() => {});
          },
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const content = await readFile(lockPath, "utf8").catch((err) => {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw err;
      });
      if (content === null) continue; // released meanwhile: try again
      const pid = Number.parseInt(content, 10);
      if (pid === process.pid) {
        throw new DirectoryLockedError(
          `The data directory ${dir} is already open in this process. Close the other driver first.`,
        );
      }
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new DirectoryLockedError(
          `The data directory ${dir} is in use by process ${pid} (see ${lockPath}). Stop that process, or use another directory.`,
        );
      }
      await takeOverStaleLock(lockPath, content);
    }
    throw new DirectoryLockedError(
      `Could not lock the data directory ${dir}: ${lockPath} keeps changing. Is another process starting on it?`,
    );
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

async function takeOverStaleLock(lockPath: string, staleContent: string): Promise<void> {
  const aside = `${lockPath}.stale.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    await rename(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return; // someone else moved it
    throw err;
  }
  const moved = await readFile(aside, "utf8").catch(() => null);
  if (moved !== staleContent) {
    // We moved a fresh lock that another process created after our read: put it back.
    await link(aside, lockPath).catch(() => {});
  }
  await unlink(aside).catch(() => {});
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
