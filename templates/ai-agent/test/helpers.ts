/**
 * Test helpers: a real agent server on a random port with its own scratch database and actor
 * storage directory, the stand-in model at a chosen pace, a typed client, and people signed up
 * through the real routes (`app.user(name)`: a new organisation with that person in it).
 * `restart()` stops the server and starts a new one on the same port, storage and database, as
 * a deploy would.
 *
 * @example
 * const app = await startTestApp({ tokensPerSecond: 200 });
 * const ada = await app.user("Ada");
 * const list = app.client.agentList.getOrCreate([ada.userId], { params: { token: ada.token } });
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "troupe/client";
import { createScratchDatabase } from "troupe/db";
import type { AgentRegistry } from "../src/actors/index.js";
import type { ModelChoice } from "../src/model/provider.js";
import { StandInModel } from "../src/model/stand-in.js";
import { type AgentServer, type AgentServerOptions, startAgentServer } from "../src/server.js";

export const TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef";
/** Cheap enough for many accounts per test; production uses troupe/accounts' `DEFAULT_SCRYPT`. */
export const TEST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
export const TEST_PASSWORD = "test-password-1234";

export interface TestUser {
  userId: string;
  displayName: string;
  token: string;
}

export interface TestApp {
  server: AgentServer;
  url: string;
  client: ReturnType<typeof createClient<AgentRegistry>>;
  databaseUrl: string;
  dataDir: string;
  user(displayName: string): Promise<TestUser>;
  sql<T>(text: string, values?: unknown[]): Promise<T[]>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export type TestAppOptions = Partial<Pick<AgentServerOptions, "logger" | "tuning" | "clock">> & {
  /** The stand-in's pace (default 0: no pause). */
  tokensPerSecond?: number;
  /** Another model than the stand-in (a provider chosen with `chooseModel`). */
  model?: ModelChoice;
  appDatabaseUrl?: (scratchUrl: string) => string | Promise<string>;
};

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error("DATABASE_URL is not set: the global setup should provide it.");
  const scratch = await createScratchDatabase(base);
  const dataDir = await mkdtemp(join(tmpdir(), "ai-agent-test-"));
  const databaseUrl = opts.appDatabaseUrl ? await opts.appDatabaseUrl(scratch.url) : scratch.url;
  let port = 0;
  const start = () =>
    startAgentServer({
      port,
      hostname: "127.0.0.1",
      authSecret: TEST_SECRET,
      scrypt: TEST_SCRYPT,
      databaseUrl,
      storage: { driver: "file", path: dataDir },
      model: opts.model ?? {
        model: new StandInModel({ tokensPerSecond: opts.tokensPerSecond ?? 0 }),
        label: "offline stand-in model",
      },
      logger: opts.logger,
      tuning: opts.tuning,
      // The same clock across restarts: time the test has not moved does not pass in between.
      clock: opts.clock,
    });
  let server = await start();
  port = server.port;
  const app: TestApp = {
    server,
    url: server.url,
    client: createClient<AgentRegistry>(server.url),
    databaseUrl: scratch.url,
    dataDir,
    async user(displayName) {
      // A person of their own new organisation, signed up through the real route.
      const suffix = randomBytes(5).toString("hex");
      const res = await fetch(`${app.url}/api/auth/organisations`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          orgName: `org-${suffix}`,
          displayName,
          login: `user-${suffix}`,
          password: TEST_PASSWORD,
        }),
      });
      const body = (await res.json()) as { token: string; user: { id: string; name: string } };
      if (res.status !== 201)
        throw new Error(`sign-up failed: ${res.status} ${JSON.stringify(body)}`);
      return { userId: body.user.id, displayName: body.user.name, token: body.token };
    },
    sql: scratch.query,
    async restart() {
      await server.close();
      server = await start();
      app.server = server;
      app.url = server.url;
      app.client = createClient<AgentRegistry>(server.url);
    },
    async close() {
      await server.close();
      await scratch.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return app;
}

/** The ActorError a call fails with, and polling with a deadline (from troupe/test). */
export { errorOf, waitFor } from "troupe/test";
