// The HTTP side: health (database and model), the info page, unknown API routes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../test/helpers.js";
import { MAX_BODY_BYTES } from "./server.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

describe("server", () => {
  it("answers health with the database and the model, and says what it is on /", async () => {
    const health = await fetch(`${app.url}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({
      ok: true,
      database: "up",
      model: "offline stand-in model",
    });
    const page = await (await fetch(`${app.url}/`)).text();
    expect(page).toContain("Troupe AI agent");
    expect(page).toContain("offline stand-in model");
    const missing = await fetch(`${app.url}/api/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("not_found");
    const metadata = await fetch(`${app.url}/api/troupe/metadata`);
    expect(metadata.status).toBe(200);
  });

  it("serves the sign-in routes of troupe/accounts with their statuses", async () => {
    const ada = await app.user("Ada");
    const me = await fetch(`${app.url}/api/me`, {
      headers: { authorization: `Bearer ${ada.token}` },
    });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { id: string } }).user.id).toBe(ada.userId);
    const anon = await fetch(`${app.url}/api/me`);
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { error: { code: string } }).error.code).toBe("auth_required");
    const wrong = await fetch(`${app.url}/api/auth/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ org: "nobody-here", login: "x", password: "wrong-password-123" }),
    });
    expect(wrong.status).toBe(401);
  });

  it("refuses a body over the limit on the app's own routes, not on the actor routes", async () => {
    const big = JSON.stringify({ org: "x", login: "y", password: "z".repeat(MAX_BODY_BYTES) });
    const res = await fetch(`${app.url}/api/auth/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: big,
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      "payload_too_large",
    );
    // The actor routes keep the registry's larger limit: refused for the key, not the size.
    const actor = await fetch(`${app.url}/api/troupe/actors/resolve`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: "agent",
        key: ["u", "c"],
        mode: "get",
        input: "x".repeat(MAX_BODY_BYTES * 2),
      }),
    });
    expect(actor.status).toBe(404);
  });
});
