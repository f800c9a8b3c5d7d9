// /api/health tells the truth about the database (troupe/server's healthRoute): 503 with the
// reason naming its host:port while the database refuses connections, 200 once it is back, and
// the model's name in both answers.
import { captureLogger, proxyUrl, type TcpProxy } from "troupe/test";
import { afterEach, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../test/helpers.js";

let app: TestApp | undefined;
let proxy: TcpProxy | undefined;
const logger = captureLogger();
afterEach(async () => {
  await proxy?.restore();
  await app?.close();
  await proxy?.close();
  app = proxy = undefined;
  logger.clear();
});

async function health(url: string) {
  const res = await fetch(`${url}/api/health`);
  return { status: res.status, body: (await res.json()) as unknown };
}

describe("/api/health", () => {
  it("is 503 naming the database's host:port while it is cut, 200 once it is back", async () => {
    app = await startTestApp({
      logger,
      appDatabaseUrl: async (scratchUrl) => {
        const through = await proxyUrl(scratchUrl);
        proxy = through.proxy;
        return through.url;
      },
    });
    const up = { ok: true, database: "up", model: "offline stand-in model" };
    expect(await health(app.url)).toEqual({ status: 200, body: up });
    await proxy!.cut();
    expect(await health(app.url)).toEqual({
      status: 503,
      body: {
        ok: false,
        database: "unreachable",
        reason: `The database at 127.0.0.1:${proxy!.port} refused the connection (nothing listens there): check that Postgres runs and that the URL points to it.`,
        model: "offline stand-in model",
      },
    });
    await proxy!.restore();
    expect(await health(app.url)).toEqual({ status: 200, body: up });
    // Only the pool's reports of the connections the cut broke are logged.
    for (const entry of logger.entries) {
      expect([entry.level, entry.message]).toEqual([
        "warn",
        expect.stringMatching(/^\[ai-agent\/db\] connection lost: /),
      ]);
    }
  });
});
