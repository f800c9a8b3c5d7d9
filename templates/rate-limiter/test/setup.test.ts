// The dashboard's first run outside production: while no admin exists, `POST /api/admin/setup`
// chooses the admin password and signs in; once one exists it is refused (409), also when
// setups race (exactly one wins); with the setup off (production) it does not exist; its body
// is limited like every route's.

import { rawRequest, repeatedChunks } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { startTestApp, TEST_PASSWORD, type TestApp } from "./helpers.js";

const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

/** A server on a fresh database without ADMIN_PASSWORD. */
async function freshApp(firstRunSetup: boolean): Promise<TestApp> {
  const app = await startTestApp({ adminPassword: undefined, firstRunSetup });
  apps.push(app);
  return app;
}

async function post(url: string, path: string, body: unknown) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const setupState = async (url: string) =>
  (await fetch(`${url}/api/admin/setup`)).json() as Promise<Record<string, boolean>>;

const tenantsWith = (url: string, token: string) =>
  fetch(`${url}/api/admin/tenants`, { headers: { authorization: `Bearer ${token}` } });

describe("first-run admin setup", () => {
  test("while no admin exists it chooses the password and signs in; afterwards it is refused", async () => {
    const app = await freshApp(true);
    expect(await setupState(app.url)).toEqual({ adminExists: false, setupAvailable: true });
    expect((await fetch(`${app.url}/api/admin/tenants`)).status).toBe(401);

    const short = await post(app.url, "/api/admin/setup", { password: "elevenchars" });
    expect(short).toEqual({
      status: 400,
      body: {
        code: "invalid_input",
        message: "The admin password must be at least 12 characters long.",
      },
    });
    expect((await post(app.url, "/api/admin/setup", "[1]")).status).toBe(400);
    expect(await setupState(app.url)).toEqual({ adminExists: false, setupAvailable: true });

    const created = await post(app.url, "/api/admin/setup", { password: "first-admin-password" });
    expect(created.status).toBe(201);
    expect((await tenantsWith(app.url, created.body.token)).status).toBe(200);
    expect(await setupState(app.url)).toEqual({ adminExists: true, setupAvailable: false });

    const again = await post(app.url, "/api/admin/setup", { password: "second-admin-password" });
    expect(again).toEqual({
      status: 409,
      body: {
        code: "admin_exists",
        message: "Someone else has set the admin password already: sign in with it.",
      },
    });
    const login = (password: string) => post(app.url, "/api/admin/login", { password });
    expect((await login("second-admin-password")).status).toBe(401);
    expect((await login("first-admin-password")).status).toBe(200);
  });

  test("racing setups: exactly one wins, the others get 409, and only its password signs in", async () => {
    const app = await freshApp(true);
    const passwords = Array.from({ length: 6 }, (_, i) => `racing-password-${i}`);
    const answers = await Promise.all(
      passwords.map((password) => post(app.url, "/api/admin/setup", { password })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    for (const a of answers.filter((a) => a.status === 409)) {
      expect(a.body.code).toBe("admin_exists");
    }
    const winner = answers.findIndex((a) => a.status === 201);
    expect((await tenantsWith(app.url, answers[winner]!.body.token)).status).toBe(200);
    const logins = await Promise.all(
      passwords.map(async (password) => {
        const res = await post(app.url, "/api/admin/login", { password });
        return res.status;
      }),
    );
    expect(logins).toEqual(passwords.map((_, i) => (i === winner ? 200 : 401)));
  });

  test("with ADMIN_PASSWORD given on the first start there is nothing to set up", async () => {
    const app = await startTestApp({ firstRunSetup: true });
    apps.push(app);
    expect(await setupState(app.url)).toEqual({ adminExists: true, setupAvailable: false });
    const res = await post(app.url, "/api/admin/setup", { password: "someone-else-entirely" });
    expect(res.status).toBe(409);
    expect((await post(app.url, "/api/admin/login", { password: TEST_PASSWORD })).status).toBe(200);
  });

  test("in production (setup off) the route does not exist, even with no admin stored", async () => {
    const app = await freshApp(false);
    expect(await setupState(app.url)).toEqual({ adminExists: false, setupAvailable: false });
    const res = await post(app.url, "/api/admin/setup", { password: "a-stranger-claims-it" });
    expect(res).toEqual({
      status: 404,
      body: {
        code: "setup_disabled",
        message: "In production the admin password comes from ADMIN_PASSWORD on the first start.",
      },
    });
    expect(await setupState(app.url)).toEqual({ adminExists: false, setupAvailable: false });
    expect(
      (await post(app.url, "/api/admin/login", { password: "a-stranger-claims-it" })).status,
    ).toBe(401);
  });

  test("a body over the limit is refused with 413 before anything is stored", async () => {
    const app = await freshApp(true);
    for (const request of [
      { body: JSON.stringify({ password: "x".repeat(70 * 1024) }) },
      // Streamed without a declared length, also one that never ends: cut at the limit.
      { chunks: repeatedChunks(32 * 1024, 3) },
      { chunks: repeatedChunks(32 * 1024, Number.POSITIVE_INFINITY) },
    ]) {
      const res = await rawRequest(`${app.url}/api/admin/setup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        ...request,
      });
      expect(res.status).toBe(413);
      expect((res.json() as { error: { code: string } }).error.code).toBe("payload_too_large");
    }
    // Within the limit but longer than a password may be: refused by the route itself.
    const long = await post(app.url, "/api/admin/setup", { password: "x".repeat(1001) });
    expect(long.status).toBe(400);
    expect(await setupState(app.url)).toEqual({ adminExists: false, setupAvailable: true });
  });
});
