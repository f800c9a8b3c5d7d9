/**
 * Vitest global setup, once per run:
 *
 * 1. Packs create-troupe as it would be published: `pnpm pack` runs `prepack`, the build step
 *    that assembles the runtime and the templates, into a temporary folder outside the repo.
 *    Test files get the tarball's path with `inject("tarball")`.
 * 2. The Postgres server: `DATABASE_URL` if set, else a throwaway embedded one (`troupe/db`).
 *    Each generated app gets its own scratch database in it (`inject("databaseUrl")`).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EMBEDDED_ROOT, startEmbeddedPostgres } from "troupe/db";
import type { TestProject } from "vitest/node";
import { PACKAGE_DIR } from "./paths.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** create-troupe-<version>.tgz, packed for this run. */
    tarball: string;
    /** The Postgres server of this run; tests make scratch databases in it. */
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const packDir = mkdtempSync(join(tmpdir(), "create-troupe-pack-"));
  execFileSync("pnpm", ["pack", "--pack-destination", packDir], {
    cwd: PACKAGE_DIR,
    stdio: "pipe",
  });
  const tarball = readdirSync(packDir).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error(`pnpm pack wrote no tarball into ${packDir}`);
  project.provide("tarball", join(packDir, tarball));

  let stopDatabase = async () => {};
  if (process.env.DATABASE_URL) {
    project.provide("databaseUrl", process.env.DATABASE_URL);
  } else {
    const server = await startEmbeddedPostgres({
      dataDir: join(EMBEDDED_ROOT, `test-create-app-${randomBytes(6).toString("hex")}`),
      persistent: false,
    });
    project.provide("databaseUrl", server.url);
    stopDatabase = () => server.stop();
  }
  return async () => {
    await stopDatabase();
    rmSync(packDir, { recursive: true, force: true });
  };
}
