// Every route the chat serves next to its actors refuses an oversized body with the runtime's
// JSON 413 (`payload_too_large`), whether the body declares its size or streams it chunked, and
// without reading more than the limit: four 200 MB sign-ins once took the server to 2 GB. The
// actor routes keep their own, larger limit (the registry's maxIncomingMessageSize).
import { type RawResponse, rawRequest, repeatedChunks } from "troupe/test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../src/server.js";
import { startTestApp, type TestApp } from "./helpers.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

/** The app's own routes, and paths no route serves (they get the limit too). */
const ROUTES: [method: string, path: string][] = [
  ["POST", "/api/auth/sign-in"],
  ["POST", "/api/auth/refresh"],
  ["POST", "/api/auth/organisations"],
  ["POST", "/api/auth/join"],
  ["POST", "/api/auth/sign-out"],
  ["GET", "/api/auth/invites/some-code"],
  ["POST", "/api/org/invite"],
  ["GET", "/api/org/members"],
  ["POST", "/api/auth/a-route-added-later"],
  ["GET", "/api/me"],
  ["GET", "/api/search?q=hello"],
  ["GET", "/api/health"],
  ["POST", "/api/no-such-route"],
  ["GET", "/"],
  ["POST", "/rooms/some-room"],
];

function expectTooLarge(res: RawResponse, what: string): void {
  expect(res.status, what).toBe(413);
  expect((res.json() as { error: { code: string } }).error.code, what).toBe("payload_too_large");
}

describe("body limits", () => {
  it("a declared body over the limit is refused on every non-actor route", async () => {
    const body = "x".repeat(MAX_BODY_BYTES + 1);
    for (const [method, path] of ROUTES) {
      const res = await rawRequest(`${app.url}${path}`, {
        method,
        body,
        headers: { "content-type": "application/json" },
      });
      expectTooLarge(res, `${method} ${path}`);
    }
  });

  it("a chunked body is cut at the limit, also one that never ends", async () => {
    // (The Node server hands GET and HEAD routes no body at all: it discards one unread.)
    for (const [method, path] of ROUTES.filter(([m]) => m !== "GET")) {
      for (const count of [3, Number.POSITIVE_INFINITY]) {
        const res = await rawRequest(`${app.url}${path}`, {
          method,
          chunks: repeatedChunks(32 * 1024, count),
          headers: { "content-type": "application/json" },
        });
        expectTooLarge(res, `${method} ${path} (${count} chunks)`);
      }
    }
  });

  it("bodies within the limit still work, and actor routes keep their own limit", async () => {
    const { token, user } = await app.signIn("Ada", "acme");
    expect(user.name).toBe("Ada");
    const refreshed = await fetch(`${app.url}/api/auth/refresh`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(refreshed.status).toBe(200);
    // An actor call larger than the app's limit but within the registry's: not a 413.
    const res = await fetch(`${app.url}/api/troupe/actors/resolve`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: "chatRoom",
        key: ["acme", "r"],
        mode: "get",
        input: "x".repeat(MAX_BODY_BYTES * 2),
      }),
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("actor_not_found");
  });
});
