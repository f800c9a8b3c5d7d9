/**
 * Test helpers: a real rate-limiter server on a random port with its own scratch database and
 * actor storage directory, signed in as the admin, with shortcuts for the admin routes.
 *
 * @example
 * const app = await startTestApp();
 * await app.admin("POST", "/api/admin/tenants", { id: "acme", name: "Acme", planId: "free" });
 * const { key } = (await app.admin("POST", "/api/admin/tenants/acme/keys", { name: "ci" })).body;
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createScratchDatabase } from "troupe/db";
import { type RateLimiterServer, type ServerOptions, startServer } from "../src/server.js";

export const TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef";
export const TEST_PASSWORD = "test-admin-password";
export const TEST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };

export interface TestApp {
  server: RateLimiterServer;
  url: string;
  databaseUrl: string;
  /** An admin route call with the admin token: status and parsed body. */
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** A public API call with an API key. */
  call(path: string, key: string): Promise<Response>;
  close(): Promise<void>;
}

export type TestAppOptions = Partial<ServerOptions> & {
  /** Rewrites the scratch database's URL for the app (e.g. through a TCP proxy). */
  databaseUrlThrough?: (url: string) => string;
};

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const { databaseUrlThrough, ...opts } = options;
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error("DATABASE_URL is not set: the global setup should provide it.");
  const scratch = await createScratchDatabase(base);
  const dataDir = await mkdtemp(join(tmpdir(), "rate-limiter-test-"));
  const server = await startServer({
    hostname: "127.0.0.1",
    port: 0,
    authSecret: TEST_SECRET,
    adminPassword: TEST_PASSWORD,
    scrypt: TEST_SCRYPT,
    // Generous: these tests count exactly, and a fail-open answer would not be counted.
    budgetMs: 5000,
    ...opts,
    databaseUrl: databaseUrlThrough ? databaseUrlThrough(scratch.url) : scratch.url,
    storage: { driver: "file", path: dataDir },
  });
  const login = await fetch(`${server.url}/api/admin/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ password: TEST_PASSWORD }),
  });
  const { token } = (await login.json()) as { token: string };
  return {
    server,
    url: server.url,
    databaseUrl: scratch.url,
    async admin(method, path, body) {
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    call: (path, key) =>
      fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } }),
    async close() {
      await server.close();
      await scratch.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
