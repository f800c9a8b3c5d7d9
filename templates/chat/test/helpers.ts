/**
 * Test helpers: a real chat server on a random port with its own scratch database and its own
 * actor storage directory, a typed client, and sign-in. `restart()` stops the server and starts
 * a new one on the same storage and database, as a deploy or crash-restart would.
 *
 * `app.signIn(displayName, org)` keeps tests short: the first call for an organisation creates
 * it (that person is its admin), later calls join through its invite link, each as a new
 * account (a new user id, as a new person would be): `TestAccounts` of `troupe/accounts/test`,
 * through the real routes. Passwords are hashed with a low scrypt cost so that hundreds of
 * sign-ins stay quick.
 *
 * @example
 * const app = await startTestApp();
 * const ada = await app.signIn("Ada", "acme");   // creates acme, Ada is its admin
 * const bo = await app.signIn("Bo", "acme");     // joins acme through its invite link
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ScryptParams } from "troupe/accounts";
import {
  type JsonGet,
  type JsonPost,
  jsonApi,
  type TestAccount,
  TestAccounts,
} from "troupe/accounts/test";
import { createClient } from "troupe/client";
import { createScratchDatabase } from "troupe/db";
import type { ChatRegistry } from "../src/actors/index.js";
import { type ChatServer, type ChatServerOptions, startChatServer } from "../src/server.js";

export const TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef";
/** Cheap enough for hundreds of accounts per test; production uses `DEFAULT_SCRYPT`. */
export const TEST_SCRYPT: ScryptParams = { N: 2 ** 10, r: 8, p: 1 };
export const TEST_PASSWORD = "test-password-1234";

export type { TestAccount };

export interface TestApp {
  server: ChatServer;
  url: string;
  client: ReturnType<typeof createClient<ChatRegistry>>;
  databaseUrl: string;
  /** A new account in `org`: creates the organisation on first use, else joins by its invite. */
  signIn(displayName: string, org: string): Promise<TestAccount>;
  /** The invite code an organisation made by `signIn` was created with. */
  inviteCode(org: string): Promise<string>;
  /** `POST path` with a JSON body (and a Bearer token): status and parsed body. */
  post: JsonPost;
  get: JsonGet;
  /** Rows of one SQL query against the app's database, on a connection of its own. */
  sql<T>(text: string, values?: unknown[]): Promise<T[]>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export type TestAppOptions = Partial<Omit<ChatServerOptions, "port" | "hostname" | "storage">> & {
  /** Where the app's pg pool connects; defaults to the scratch database. */
  appDatabaseUrl?: (scratchUrl: string) => string | Promise<string>;
};

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error("DATABASE_URL is not set: the global setup should provide it.");
  const scratch = await createScratchDatabase(base);
  const dataDir = await mkdtemp(join(tmpdir(), "chat-test-"));
  const databaseUrl = opts.appDatabaseUrl ? await opts.appDatabaseUrl(scratch.url) : scratch.url;
  let port = 0;
  const start = () =>
    startChatServer({
      port,
      hostname: "127.0.0.1",
      authSecret: TEST_SECRET,
      scrypt: TEST_SCRYPT,
      ...opts,
      databaseUrl,
      storage: { driver: "file", path: dataDir },
    });
  let server = await start();
  // A restart listens on the same port, so clients and their connections find it again.
  port = server.port;
  const api = jsonApi(() => app.url);
  const accounts = new TestAccounts(api.post, TEST_PASSWORD);
  const app: TestApp = {
    server,
    url: server.url,
    client: createClient<ChatRegistry>(server.url),
    databaseUrl: scratch.url,
    sql: scratch.query,
    signIn: (displayName, org) => accounts.signIn(displayName, org),
    inviteCode: (org) => accounts.inviteCode(org),
    post: api.post,
    get: api.get,
    async restart() {
      await server.close();
      server = await start();
      app.server = server;
      app.url = server.url;
      app.client = createClient<ChatRegistry>(server.url);
    },
    async close() {
      await server.close();
      await scratch.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return app;
}

/** Polling with a deadline, and the ActorError a call fails with (from troupe/test). */
export { errorOf, waitFor } from "troupe/test";

/** Collects the events of a connection in arrays, by name. */
export function collect(
  conn: { on(name: string, cb: (...args: any[]) => void): () => void },
  names: string[],
): Record<string, any[]> {
  const out: Record<string, any[]> = {};
  for (const name of names) {
    out[name] = [];
    conn.on(name, (arg: unknown) => out[name]!.push(arg));
  }
  return out;
}
