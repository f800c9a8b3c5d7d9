// Database reachability with real sockets: a closed port, a server that accepts and never
// answers, a connection frozen mid-use (troupe/test's TCP proxy), and the real Postgres.
import { createServer, type Server, type Socket } from "node:net";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../free-port.js";
import { startTcpProxy, type TcpProxy } from "../test/tcp-proxy.js";
import {
  assertDatabaseReachable,
  checkDatabase,
  DatabaseUnreachableError,
  describeDatabaseError,
} from "./reach.js";

const base = () => {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set: the global setup should provide it.");
  return url;
};

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A TCP server that accepts connections and never says a word, as a hung database does. */
async function silentServer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  const address = server.address();
  return typeof address === "object" && address ? address.port : 0;
}

function urlOnPort(port: number): string {
  const url = new URL(base());
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return url.toString();
}

describe("assertDatabaseReachable", () => {
  it("passes for the real database", async () => {
    await expect(assertDatabaseReachable(base())).resolves.toBeUndefined();
  });

  it("names the host:port that refused the connection, without the password", async () => {
    const port = await freePort();
    const url = urlOnPort(port);
    const err = await assertDatabaseReachable(url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseUnreachableError);
    expect((err as Error).message).toBe(
      `The database at 127.0.0.1:${port} refused the connection (nothing listens there): check that Postgres runs and that the URL points to it.`,
    );
    const password = decodeURIComponent(new URL(url).password);
    if (password) expect((err as Error).message).not.toContain(password);
  });

  it("gives up on a server that accepts and never answers, within the time limit", async () => {
    const port = await silentServer();
    const err = await assertDatabaseReachable(urlOnPort(port), { timeoutMs: 500 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatabaseUnreachableError);
    expect((err as Error).message).toMatch(
      new RegExp(`^The database at 127\\.0\\.0\\.1:${port} did not answer (within 500 ms|in time)`),
    );
  });

  it("says which database does not exist", async () => {
    const url = new URL(base());
    url.pathname = "/no_such_database_here";
    const err = await assertDatabaseReachable(url.toString()).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/has no such database .*no_such_database_here/);
  });
});

describe("checkDatabase", () => {
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it("is ok on a live pool, and says why when the port is closed", async () => {
    const pool = new pg.Pool({ connectionString: base(), max: 2 });
    cleanups.push(() => pool.end());
    expect(await checkDatabase(pool)).toEqual({ ok: true });

    const port = await freePort();
    const dead = new pg.Pool({ connectionString: urlOnPort(port), max: 1 });
    dead.on("error", () => {});
    cleanups.push(() => dead.end());
    const check = await checkDatabase(dead);
    expect(check).toEqual({
      ok: false,
      reason: `The database at 127.0.0.1:${port} refused the connection (nothing listens there): check that Postgres runs and that the URL points to it.`,
    });
  });

  it("answers within its time limit when the database stops answering mid-connection", async () => {
    const target = new URL(base());
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const pool = new pg.Pool({ connectionString: urlOnPort(proxy.port), max: 1 });
    pool.on("error", () => {});
    expect(await checkDatabase(pool)).toEqual({ ok: true });
    proxy.freeze();
    const check = await checkDatabase(pool, { timeoutMs: 300 });
    expect(check).toEqual({
      ok: false,
      reason: `The database at 127.0.0.1:${proxy.port} did not answer within 300 ms.`,
    });
    // The frozen client is dropped when its own socket is destroyed; the pool is not ended here
    // (ending waits for that client), the proxy's close cuts it.
    await proxy.close();
    proxy = undefined;
    await pool.end().catch(() => {});
  });
});

describe("describeDatabaseError", () => {
  it("covers the errors pg and Node raise", () => {
    const url = "postgres://app:s3cret@db.internal:6543/app";
    expect(
      describeDatabaseError({ code: "ENOTFOUND", message: "getaddrinfo ENOTFOUND" }, url),
    ).toBe(
      'The database host "db.internal" could not be found (ENOTFOUND): check the host name in the URL.',
    );
    expect(
      describeDatabaseError(
        { code: "28P01", message: 'password authentication failed for user "app"' },
        url,
      ),
    ).toBe(
      'The database at db.internal:6543 refused the credentials (password authentication failed for user "app"): check the user and password in the URL.',
    );
    // Node's AggregateError (several addresses for one name) carries the code of each attempt.
    const aggregate = Object.assign(new AggregateError([{ code: "ECONNREFUSED" }], ""), {});
    expect(describeDatabaseError(aggregate, url)).toMatch(
      /^The database at db\.internal:6543 refused/,
    );
    expect(describeDatabaseError(new Error("boom s3cret"), url)).toBe(
      "The database at db.internal:6543 could not be used: boom ***.",
    );
  });
});
