/**
 * For the tests of `troupe/accounts`: a real Hono server on a random port serving the account
 * routes, with its own scratch database (in the test run's Postgres: the embedded one of the
 * global setup, or DATABASE_URL) whose tables are created from `schema.ts` the way a template's
 * migrations would be (drizzle-kit generates the SQL). `restart()` starts a new server on the
 * same database, as a deploy would: revocations are loaded from SQL again.
 *
 * `app.signIn(displayName, org)` keeps tests short: the first call for an organisation creates
 * it (that person is its admin), later calls join through its invite link, each as a new
 * account. Passwords are hashed with a low scrypt cost so that many sign-ins stay quick.
 *
 * @example
 * const app = await startAccountsTestApp();
 * const ada = await app.signIn("Ada", "acme");   // creates acme, Ada is its admin
 * const bo = await app.signIn("Bo", "acme");     // joins acme through its invite link
 */
import { type ServerType, serve } from "@hono/node-server";
import { drizzle } from "drizzle-orm/node-postgres";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import pg from "pg";
import { UserError } from "../actor/errors.js";
import { createScratchDatabase } from "../db/index.js";
import { Accounts, SESSION_MAX_LIFETIME_SECONDS } from "./accounts.js";
import { Auth } from "./auth.js";
import type { AccountsDb } from "./db.js";
import type { ScryptParams } from "./password.js";
import { SessionRevocations } from "./revocations.js";
import { ACCOUNT_ERROR_STATUS, mountAccountRoutes } from "./routes.js";
import * as schema from "./schema.js";
import {
  type JsonGet,
  type JsonPost,
  jsonApi,
  type TestAccount,
  TestAccounts,
} from "./test-accounts.js";

export type { TestAccount };

export const TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef";
/** Cheap enough for hundreds of accounts per test; production uses `DEFAULT_SCRYPT`. */
export const TEST_SCRYPT: ScryptParams = { N: 2 ** 10, r: 8, p: 1 };
export const TEST_PASSWORD = "test-password-1234";

export interface AccountsTestApp {
  url: string;
  auth: Auth;
  accounts: Accounts;
  /** The app's drizzle database (its pool is replaced by `restart`). */
  db: AccountsDb;
  /** A new account in `org`: creates the organisation on first use, else joins by its invite. */
  signIn(displayName: string, org: string): Promise<TestAccount>;
  /** `POST path` with a JSON body (and a Bearer token): status and parsed body. */
  post: JsonPost;
  get: JsonGet;
  /** Rows of one SQL query against the app's database, on a connection of its own. */
  sql<T>(text: string, values?: unknown[]): Promise<T[]>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** The SQL that creates the accounts tables in an empty database, as drizzle-kit writes it. */
export async function accountsTablesSql(): Promise<string[]> {
  const { generateDrizzleJson, generateMigration } = await import("drizzle-kit/api");
  return generateMigration(generateDrizzleJson({}), generateDrizzleJson({ ...schema }));
}

export async function startAccountsTestApp(
  opts: { inviteTtlSeconds?: number } = {},
): Promise<AccountsTestApp> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error("DATABASE_URL is not set: the global setup should provide it.");
  const scratch = await createScratchDatabase(base);
  const setupPool = new pg.Pool({ connectionString: scratch.url, max: 1 });
  try {
    for (const statement of await accountsTablesSql()) await setupPool.query(statement);
  } finally {
    await setupPool.end();
  }

  let port = 0;
  const start = async () => {
    const pool = new pg.Pool({ connectionString: scratch.url, max: 4 });
    const db = drizzle(pool, { schema });
    const revocations = new SessionRevocations(SESSION_MAX_LIFETIME_SECONDS * 1000);
    await revocations.load(db);
    const auth = new Auth({ secret: TEST_SECRET, revocations });
    const accounts = new Accounts({
      db,
      auth,
      scrypt: TEST_SCRYPT,
      inviteTtlSeconds: opts.inviteTtlSeconds,
    });
    const hono = new Hono();
    hono.onError((err, c) => {
      if (!(err instanceof UserError)) {
        // Printed, so the quiet setup fails the test that provoked it.
        console.error("[accounts test app] request failed:", err);
        return c.json({ error: { code: "internal_error", message: "Something went wrong." } }, 500);
      }
      const status =
        (ACCOUNT_ERROR_STATUS as Record<string, ContentfulStatusCode>)[err.code] ??
        (err.status as ContentfulStatusCode);
      const retryAfter = (err.metadata as { retryAfterSeconds?: unknown } | undefined)
        ?.retryAfterSeconds;
      if (typeof retryAfter === "number") c.header("Retry-After", String(retryAfter));
      return c.json(
        { error: { code: err.code, message: err.message, metadata: err.metadata ?? null } },
        status,
      );
    });
    mountAccountRoutes(hono, { accounts, auth });
    const server: ServerType = await new Promise((resolve, reject) => {
      const s = serve({ fetch: hono.fetch, port, hostname: "127.0.0.1" }, () => resolve(s));
      s.once("error", reject);
    });
    const address = server.address();
    port = typeof address === "object" && address ? address.port : 0;
    return {
      auth,
      accounts,
      db,
      close: async () => {
        await new Promise<void>((r) => {
          server.close(() => r());
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
        await pool.end();
      },
    };
  };

  let running = await start();
  const url = `http://127.0.0.1:${port}`;
  const api = jsonApi(() => url);
  const testAccounts = new TestAccounts(api.post, TEST_PASSWORD);
  const app: AccountsTestApp = {
    url,
    auth: running.auth,
    accounts: running.accounts,
    db: running.db,
    sql: scratch.query,
    signIn: (displayName, org) => testAccounts.signIn(displayName, org),
    post: api.post,
    get: api.get,
    async restart() {
      await running.close();
      running = await start();
      app.auth = running.auth;
      app.accounts = running.accounts;
      app.db = running.db;
    },
    async close() {
      await running.close();
      await scratch.drop();
    },
  };
  return app;
}
