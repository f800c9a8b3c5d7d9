// Health and start-up tell the truth about the database: /api/health answers 503 with the
// reason while the database refuses connections or stops answering (bounded in time), and a
// start against a dead DATABASE_URL fails with one sentence naming its host:port.
import { captureLogger, freePort, proxyUrl, type TcpProxy } from "troupe/test";
import { afterEach, describe, expect, it } from "vitest";
import { startTestApp, TEST_SECRET, type TestApp } from "../test/helpers.js";
import { startChatServer } from "./server.js";

let app: TestApp | undefined;
let proxy: TcpProxy | undefined;
const logger = captureLogger();
afterEach(async () => {
  await proxy?.cut();
  await proxy?.restore();
  await app?.close();
  await proxy?.close();
  app = proxy = undefined;
  logger.clear();
});

async function health(url: string) {
  const res = await fetch(`${url}/api/health`);
  return { status: res.status, body: (await res.json()) as any };
}

/** Only the pool's reports of the connections the test breaks may be logged. */
function expectOnlyLostConnections() {
  for (const entry of logger.entries) {
    expect([entry.level, entry.message]).toEqual([
      "warn",
      expect.stringMatching(/^\[chat\/db\] connection lost: /),
    ]);
  }
}

describe("/api/health", () => {
  it("is 503 with the reason while the database refuses connections, 200 once it is back", async () => {
    app = await startTestApp({
      logger,
      appDatabaseUrl: async (scratchUrl) => {
        const through = await proxyUrl(scratchUrl);
        proxy = through.proxy;
        return through.url;
      },
    });
    expect(await health(app.url)).toEqual({ status: 200, body: { ok: true, database: "up" } });
    await proxy!.cut();
    expect(await health(app.url)).toEqual({
      status: 503,
      body: {
        ok: false,
        database: "unreachable",
        reason: `The database at 127.0.0.1:${proxy!.port} refused the connection (nothing listens there): check that Postgres runs and that the URL points to it.`,
      },
    });
    await proxy!.restore();
    expect(await health(app.url)).toEqual({ status: 200, body: { ok: true, database: "up" } });
    expectOnlyLostConnections();
  });

  it("answers 503 within its time limit when the database stops answering", async () => {
    app = await startTestApp({
      logger,
      appDatabaseUrl: async (scratchUrl) => {
        const through = await proxyUrl(scratchUrl);
        proxy = through.proxy;
        return through.url;
      },
    });
    expect((await health(app.url)).status).toBe(200);
    // Every pooled connection is now open and silent, as behind a dead network link.
    proxy!.freeze();
    expect(await health(app.url)).toEqual({
      status: 503,
      body: {
        ok: false,
        database: "unreachable",
        reason: `The database at 127.0.0.1:${proxy!.port} did not answer within 2 s.`,
      },
    });
    expectOnlyLostConnections();
  });
});

describe("start-up", () => {
  it("fails with one sentence naming the host:port when nothing listens at DATABASE_URL", async () => {
    const port = await freePort();
    const url = new URL(process.env.DATABASE_URL!);
    url.hostname = "127.0.0.1";
    url.port = String(port);
    const err = await startChatServer({
      databaseUrl: url.toString(),
      authSecret: TEST_SECRET,
      storage: { driver: "memory" },
      port: 0,
      hostname: "127.0.0.1",
      logger,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `The database at 127.0.0.1:${port} refused the connection (nothing listens there): check that Postgres runs and that the URL points to it.`,
    );
    expect(logger.entries).toEqual([]);
  });
});
