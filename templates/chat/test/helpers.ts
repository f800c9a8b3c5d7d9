/**
 * Test helpers: a real chat server on a random port with its own scratch database and its own
 * actor storage directory, a typed client, and sign-in. `restart()` stops the server and starts
 * a new one on the same storage and database, as a deploy or crash-restart would.
 *
 * `app.signIn(displayName, org)` keeps tests short: the first call for an organisation creates
 * it (that person is its admin), later calls join through its invite link, each as a new
 * account (a new user id, as a new person would be). Passwords are hashed with a low scrypt cost
 * so that hundreds of sign-ins stay quick.
 *
 * @example
 * const app = await startTestApp();
 * const ada = await app.signIn("Ada", "acme");   // creates acme, Ada is its admin
 * const bo = await app.signIn("Bo", "acme");     // joins acme through its invite link
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Role, ScryptParams, User } from "troupe/accounts";
import { ActorError, createClient } from "troupe/client";
import { createScratchDatabase } from "troupe/db";
import type { ChatRegistry } from "../src/actors/index.js";
import { type ChatServer, type ChatServerOptions, startChatServer } from "../src/server.js";

export const TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef";
/** Cheap enough for hundreds of accounts per test; production uses `DEFAULT_SCRYPT`. */
export const TEST_SCRYPT: ScryptParams = { N: 2 ** 10, r: 8, p: 1 };
export const TEST_PASSWORD = "test-password-1234";

export interface TestAccount {
  token: string;
  user: User;
  role: Role;
  /** What the person signs in with (with `TEST_PASSWORD`). */
  login: string;
}

export interface TestApp {
  server: ChatServer;
  url: string;
  client: ReturnType<typeof createClient<ChatRegistry>>;
  databaseUrl: string;
  /** A new account in `org`: creates the organisation on first use, else joins by its invite. */
  signIn(displayName: string, org: string): Promise<TestAccount>;
  /** The current invite code of an organisation made by `signIn`. */
  inviteCode(org: string): Promise<string>;
  /** `POST path` with a JSON body (and a Bearer token): status and parsed body. */
  post(path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  get(path: string, token?: string): Promise<{ status: number; body: any }>;
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
  /** Invite codes of the organisations `signIn` made, by slug (a promise: the first call creates). */
  const invitesByOrg = new Map<string, Promise<string>>();
  let accountSeq = 0;
  // A restart listens on the same port, so clients and their connections find it again.
  port = server.port;
  const app: TestApp = {
    server,
    url: server.url,
    client: createClient<ChatRegistry>(server.url),
    databaseUrl: scratch.url,
    async sql<T>(text: string, values: unknown[] = []) {
      const client = new pg.Client({ connectionString: scratch.url });
      await client.connect();
      try {
        return (await client.query(text, values)).rows as T[];
      } finally {
        await client.end();
      }
    },
    async signIn(displayName, org) {
      const login =
        `${displayName.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-${++accountSeq}`.replace(
          /^-/,
          "u",
        );
      const known = invitesByOrg.get(org);
      if (!known) {
        const created = (async () => {
          const res = await app.post("/api/auth/organisations", {
            orgName: org,
            displayName,
            login,
            password: TEST_PASSWORD,
          });
          if (res.status !== 201)
            throw new Error(`creating ${org} failed: ${res.status} ${JSON.stringify(res.body)}`);
          if (res.body.user.org !== org)
            throw new Error(`"${org}" is not a slug (it became "${res.body.user.org}")`);
          return {
            code: res.body.invite.code as string,
            admin: { ...res.body, login } as TestAccount,
          };
        })();
        const code = created.then((c) => c.code);
        // Awaited by later calls; a failure is reported by this call, not as unhandled.
        code.catch(() => {});
        invitesByOrg.set(org, code);
        return (await created).admin;
      }
      const res = await app.post("/api/auth/join", {
        code: await known,
        displayName,
        login,
        password: TEST_PASSWORD,
      });
      if (res.status !== 201)
        throw new Error(`joining ${org} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return { ...res.body, login } as TestAccount;
    },
    async inviteCode(org) {
      const code = invitesByOrg.get(org);
      if (!code) throw new Error(`No organisation "${org}" made by app.signIn yet.`);
      return code;
    },
    async post(path, body, token) {
      const res = await fetch(`${app.url}${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        body:
          body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    },
    async get(path, token) {
      const res = await fetch(`${app.url}${path}`, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
      return { status: res.status, body: (await res.json()) as any };
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

/** The ActorError a call fails with; a call that succeeds fails the test. */
export async function errorOf(p: Promise<unknown>): Promise<ActorError> {
  const err = await p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
  if (!(err instanceof ActorError)) throw new Error(`expected an ActorError, got ${String(err)}`);
  return err;
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
