/**
 * Test helpers: a real chat server on a random port with its own scratch database and its own
 * actor storage directory, a typed client, and sign-in. `restart()` stops the server and starts
 * a new one on the same storage and database, as a deploy or crash-restart would.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "troupe/client";
import { createScratchDatabase } from "troupe/db";
import type { ChatRegistry } from "../src/actors/index.js";
import type { User } from "../src/auth.js";
import { type ChatServer, type ChatServerOptions, startChatServer } from "../src/server.js";

export const TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef";

export interface TestApp {
  server: ChatServer;
  url: string;
  client: ReturnType<typeof createClient<ChatRegistry>>;
  databaseUrl: string;
  signIn(displayName: string, org: string): Promise<{ token: string; user: User }>;
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
      ...opts,
      databaseUrl,
      storage: { driver: "file", path: dataDir },
    });
  let server = await start();
  // A restart listens on the same port, so clients and their connections find it again.
  port = server.port;
  const app: TestApp = {
    server,
    url: server.url,
    client: createClient<ChatRegistry>(server.url),
    databaseUrl: scratch.url,
    async signIn(displayName, org) {
      const res = await fetch(`${app.url}/api/auth/sign-in`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ displayName, org }),
      });
      if (!res.ok) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
      return (await res.json()) as { token: string; user: User };
    },
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

/** Polling with a deadline (from troupe/test). */
export { waitFor } from "troupe/test";

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
