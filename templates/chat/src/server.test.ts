// The app's own HTTP routes: health, the built frontend (or the API-only page without one), and
// search over SQL (scoped to the caller's organisation, paginated, deleted messages excluded).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp, waitFor } from "../test/helpers.js";
import type { SearchResult } from "./server.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

async function search(token: string | undefined, params: Record<string, string>) {
  const res = await fetch(`${app.url}/api/search?${new URLSearchParams(params)}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe("http routes", () => {
  it("answers the health check, and without a built frontend says it is API-only", async () => {
    const health = await fetch(`${app.url}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true, database: "up" });
    const page = await fetch(`${app.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("This server runs the API only");
    expect((await fetch(`${app.url}/api/troupe/metadata`)).status).toBe(200);
  });

  it("serves a built frontend: cached hashed assets, index.html for client routes, JSON 404 under /api", async () => {
    const dir = await mkdtemp(join(tmpdir(), "chat-dist-"));
    await mkdir(join(dir, "assets"));
    await writeFile(join(dir, "index.html"), "<!doctype html><title>chat</title><div id=root>");
    await writeFile(join(dir, "assets", "index-abc123.js"), "console.log(1)");
    await writeFile(join(dir, "favicon.svg"), "<svg/>");
    const web = await startTestApp({ frontend: dir });
    try {
      for (const path of ["/", "/rooms/some-room", "/search?q=x"]) {
        const res = await fetch(`${web.url}${path}`);
        expect(res.status, path).toBe(200);
        expect(res.headers.get("cache-control"), path).toBe("no-cache");
        expect(await res.text(), path).toContain("<title>chat</title>");
      }
      const asset = await fetch(`${web.url}/assets/index-abc123.js`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get("content-type")).toMatch(/javascript/);
      expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(await asset.text()).toBe("console.log(1)");
      expect((await fetch(`${web.url}/assets/index-gone.js`)).status).toBe(404);
      expect((await fetch(`${web.url}/favicon.svg`)).headers.get("cache-control")).toBe(
        "public, max-age=3600",
      );

      const unknownApi = await fetch(`${web.url}/api/nope`);
      expect(unknownApi.status).toBe(404);
      expect(await unknownApi.json()).toMatchObject({ error: { code: "not_found" } });
      expect(await (await fetch(`${web.url}/api/health`)).json()).toMatchObject({ ok: true });
      // Path tricks do not leave the directory.
      expect(await (await fetch(`${web.url}/assets/..%2f..%2fetc%2fpasswd`)).text()).not.toContain(
        "root:",
      );
    } finally {
      await web.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("search finds messages of the caller's org only, newest first, page by page", async () => {
    const ada = await app.signIn("Ada", "acme");
    const eve = await app.signIn("Eve", "globex");
    const acmeRoom = await app.client.chatRoomList
      .getOrCreate(["acme"], { params: { token: ada.token } })
      .createRoom("launch");
    const globexRoom = await app.client.chatRoomList
      .getOrCreate(["globex"], { params: { token: eve.token } })
      .createRoom("launch");
    const acme = app.client.chatRoom.get(["acme", acmeRoom.id], { params: { token: ada.token } });
    const globex = app.client.chatRoom.get(["globex", globexRoom.id], {
      params: { token: eve.token },
    });
    const texts = [
      "The rocket launches on Friday",
      "lunch first, then rockets",
      "nothing to see here",
      "Rocket fuel delivered",
      "this rocket message gets deleted",
    ];
    const sent = [];
    for (const t of texts) sent.push(await acme.send(t));
    await acme.remove(sent[4]!.id);
    await globex.send("globex rocket secrets");

    const expected = [sent[3]!.id, sent[1]!.id, sent[0]!.id];
    const all = await waitFor(
      async () => {
        const r = await search(ada.token, { q: "rocket" });
        const ids = r.body.results?.map((x: SearchResult) => x.id);
        return JSON.stringify(ids) === JSON.stringify(expected) ? r.body : undefined;
      },
      { what: "search results" },
    );
    expect(all.results[0]).toMatchObject({
      roomId: acmeRoom.id,
      roomName: "launch",
      authorName: "Ada",
      text: "Rocket fuel delivered",
    });
    expect(all.results[0].snippet).toContain("<<Rocket>>");
    expect(all.nextCursor).toBeNull();

    const page1 = await search(ada.token, { q: "rocket", limit: "2" });
    expect(page1.body.results.map((r: SearchResult) => r.id)).toEqual(expected.slice(0, 2));
    const page2 = await search(ada.token, {
      q: "rocket",
      limit: "2",
      cursor: page1.body.nextCursor,
    });
    expect(page2.body.results.map((r: SearchResult) => r.id)).toEqual(expected.slice(2));
    expect(page2.body.nextCursor).toBeNull();

    await waitFor(async () => (await search(eve.token, { q: "rocket" })).body.results.length === 1);
    const theirs = await search(eve.token, { q: "rocket" });
    expect(theirs.body.results.map((r: SearchResult) => r.text)).toEqual(["globex rocket secrets"]);
  });

  it("search needs a token and a query", async () => {
    expect((await search(undefined, { q: "x" })).body.error.code).toBe("auth_required");
    const { token } = await app.signIn("Ada", "acme");
    const empty = await search(token, { q: "  " });
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe("invalid_input");
    expect((await search(token, {})).body.error.code).toBe("invalid_input");
    expect((await search(token, { q: "x", cursor: "garbage" })).body.error.code).toBe(
      "invalid_input",
    );
    expect((await search(token, { q: "x", limit: "500" })).body.error.code).toBe("invalid_input");
  });
});
