// Authorising creation: `onBeforeCreate` runs on every path that can create an actor (HTTP
// resolve, HTTP actions with getOrCreate/create, WebSocket init, c.client() with params) before
// anything is stored; `resolve` runs the connection hooks; and `conn.disconnect(reason,
// { reconnect: true })` (close 4003) brings the client back with fresh params. On Node and on
// workerd (where the hooks run in the actor's Durable Object).
import type { ActorError } from "troupe/client";
import { captureLogger, waitFor } from "troupe/test";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import WebSocket from "ws";
import {
  BEFORE_CREATE,
  createAuthRegistry,
  type SeenCreation,
} from "./fixtures/suites/create-auth.js";
import { loggedOn, type Served, serve, TARGETS } from "./spec-targets.js";

const FRAME_WAIT = 60_000;
const logger = captureLogger();
const registry = createAuthRegistry(logger);
let t: Served<typeof registry> | undefined;
beforeEach(() => logger.clear());
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** Serves the registry with the creation hook's record emptied. */
async function start(target: (typeof TARGETS)[number]): Promise<Served<typeof registry>> {
  t = await serve(target, registry);
  await t.clearSeen(BEFORE_CREATE);
  return t;
}

/** What vault's onBeforeCreate saw, one entry per call. */
async function seen(): Promise<SeenCreation[]> {
  return (await t!.seen(BEFORE_CREATE)).map((entry) => JSON.parse(entry) as SeenCreation);
}

async function post(path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${t!.endpoint}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-test": "yes" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/**
 * Whether the actor exists, asked over the protocol: `get` never creates, and resolves with the
 * owner's token (the vault's connection hook lets its owner in).
 */
async function exists(name: "vault" | "broken", key: string[]): Promise<boolean> {
  const res = await post("/actors/resolve", {
    name,
    key,
    mode: "get",
    params: { token: `user:${key[0]}` },
  });
  if (res.json.actorId !== undefined) return true;
  expect(res.json.error?.code).toBe("actor_not_found");
  return false;
}

function failure(call: Promise<unknown>): Promise<ActorError> {
  return call.then(
    (v) => {
      throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
    },
    (err) => err as ActorError,
  );
}

/** A raw WebSocket `init`; resolves with the first frame and the close code. */
function wsInit(actorQuery: unknown, params?: unknown): Promise<{ frame: any; code: number }> {
  const ws = new WebSocket(`${t!.endpoint.replace(/^http/, "ws")}/actors/connect`);
  return new Promise((resolve, reject) => {
    let frame: any;
    const timer = setTimeout(() => reject(new Error("no answer to init")), FRAME_WAIT);
    ws.on("open", () => ws.send(JSON.stringify({ t: "init", actor: actorQuery, params })));
    ws.on("message", (data) => {
      frame ??= JSON.parse(String(data));
      if (frame.t === "welcome") ws.close();
    });
    ws.on("close", (code) => {
      clearTimeout(timer);
      resolve({ frame, code });
    });
    ws.on("error", reject);
  });
}

// On workerd the actors outlive a test (one process per file): each test uses keys of its own.
describe.each(TARGETS)("creation is authorised on %s", (target) => {
  test("an anonymous caller creates nothing, on any path, and sees the hook's error", {
    timeout: 120_000,
  }, async () => {
    await start(target);
    const query = { name: "vault", key: ["alice"], mode: "getOrCreate", input: { owner: "eve" } };

    const resolved = await post("/actors/resolve", query);
    expect(resolved.status).toBe(400);
    expect(resolved.json.error.code).toBe("auth_required");

    const action = await post("/actors/action/owner", { actor: query, args: [] });
    expect(action.json.error.code).toBe("auth_required");

    const created = await post("/actors/action/owner", {
      actor: { ...query, mode: "create" },
      args: [],
    });
    expect(created.json.error.code).toBe("auth_required");

    const ws = await wsInit(query);
    expect(ws.frame).toMatchObject({ t: "error", error: { code: "auth_required" } });
    expect(ws.code).toBe(4001);

    expect(await exists("vault", ["alice"])).toBe(false);
    expect(await seen()).toHaveLength(4);
  });

  test("another user's key or a spoofed input is refused before anything is stored", async () => {
    await start(target);
    const wrongKey = t!.client.vault.getOrCreate(["alice"], { params: { token: "user:eve" } });
    expect((await failure(wrongKey.resolve())).code).toBe("forbidden");
    const spoofed = t!.client.vault.getOrCreate(["eve"], {
      params: { token: "user:eve" },
      createWithInput: { owner: "alice" },
    });
    expect((await failure(spoofed.owner())).code).toBe("forbidden");
    const ws = await wsInit(
      { name: "vault", key: ["alice"], mode: "getOrCreate" },
      { token: "user:eve" },
    );
    expect(ws.frame.error.code).toBe("forbidden");
    expect(await exists("vault", ["alice"])).toBe(false);
    expect(await exists("vault", ["eve"])).toBe(false);
  });

  test("the hook sees key, input, params and the request; it runs only for a creation", async () => {
    await start(target);
    const res = await post("/actors/action/owner", {
      actor: { name: "vault", key: ["bob"], mode: "getOrCreate", input: { owner: "bob" } },
      args: [],
      params: { token: "user:bob" },
    });
    expect(res.json).toEqual({ output: "bob" });
    expect(await seen()).toEqual([
      {
        key: ["bob"],
        input: { owner: "bob" },
        params: { token: "user:bob" },
        request: true,
        xTest: "yes",
      },
    ]);

    // The actor exists now: getOrCreate, resolve and connect do not run the hook again.
    const handle = t!.client.vault.getOrCreate(["bob"], { params: { token: "user:bob" } });
    await handle.resolve();
    const conn = handle.connect();
    expect(await conn.whoami()).toBe("bob");
    await conn.dispose();
    expect(await seen()).toHaveLength(1);
  });

  test("a WebSocket init creates with the connection's params", async () => {
    await start(target);
    const ws = await wsInit(
      { name: "vault", key: ["carol"], mode: "getOrCreate", input: { owner: "carol" } },
      { token: "user:carol" },
    );
    expect(ws.frame.t).toBe("welcome");
    expect((await seen()).map((s) => [s.params, s.request])).toEqual([
      [{ token: "user:carol" }, true],
    ]);
    expect(await exists("vault", ["carol"])).toBe(true);
  });

  test("c.client() without params is trusted; with params the hook runs with them", async () => {
    await start(target);
    const concierge = t!.client.concierge.getOrCreate(["c"]);
    await concierge.trusted("dave");
    expect(await seen()).toHaveLength(0);
    expect(await exists("vault", ["dave"])).toBe(true);

    expect(await concierge.onBehalf("erin", "user:mallory")).toEqual({ refused: "forbidden" });
    expect(await exists("vault", ["erin"])).toBe(false);
    await concierge.onBehalf("erin", "user:erin");
    expect((await seen()).map((s) => [s.key, s.params])).toEqual([
      [["erin"], { token: "user:mallory" }],
      [["erin"], { token: "user:erin" }],
    ]);
    expect(await exists("vault", ["erin"])).toBe(true);
  });

  test("a hook that throws a plain error refuses with internal_error and logs the detail", async () => {
    await start(target);
    const res = await post("/actors/resolve", { name: "broken", key: ["x"], mode: "getOrCreate" });
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe("internal_error");
    expect(JSON.stringify(res.json)).not.toContain("database is down");
    const lines = () =>
      loggedOn(t!, logger, [], (l) => l.level === "error" && l.error === "database is down");
    // workerd's output reaches this process through a pipe, maybe after the reply.
    await waitFor(() => lines().length > 0, { timeout: 60_000, what: "the log line" });
    expect(lines()[0]!.message).toBe("internal error");
    expect(await exists("broken", ["x"])).toBe(false);
  });

  test("resolve runs the connection hooks: an unauthorised caller cannot learn an actor's id", async () => {
    await start(target);
    const id = await t!.client.vault
      .getOrCreate(["frank"], { params: { token: "user:frank" } })
      .resolve();
    const anonymous = await post("/actors/resolve", { name: "vault", key: ["frank"] });
    expect(anonymous.json.error.code).toBe("forbidden");
    const other = await failure(
      t!.client.vault.get(["frank"], { params: { token: "user:eve" } }).resolve(),
    );
    expect(other.code).toBe("forbidden");
    expect(
      await t!.client.vault
        .get(["frank"], { getParams: () => ({ token: "user:frank" }) })
        .resolve(),
    ).toBe(id);
  });

  test("conn.disconnect(reason, { reconnect: true }): the client reconnects at once with fresh params and keeps its subscriptions", async () => {
    await start(target);
    let calls = 0;
    const handle = t!.client.vault.getOrCreate(["gina"], {
      getParams: () => {
        calls++;
        return { token: "user:gina" };
      },
    });
    const conn = handle.connect();
    const closes: number[] = [];
    conn.onClose((e) => closes.push(e.code));
    const items: number[] = [];
    conn.on("item", (n: number) => items.push(n));
    expect(await conn.whoami()).toBe("gina");
    await conn.expire().catch(() => {}); // the close may beat the reply
    await waitFor(() => closes.length === 1 && conn.status === "connected", { timeout: 20_000 });
    expect(closes).toEqual([4003]);
    expect(calls).toBe(2);
    expect(await conn.whoami()).toBe("gina");
    await conn.put("after");
    await waitFor(() => items.length === 1);
    expect(items).toEqual([1]);
    await conn.dispose();
  });

  test("conn.disconnect(reason, { reconnect: true }): when the fresh params are refused, the connection ends with the hook's error", async () => {
    await start(target);
    let token = "user:hank";
    const conn = t!.client.vault.getOrCreate(["hank"], { getParams: () => ({ token }) }).connect();
    const errors: string[] = [];
    conn.onError((e) => errors.push((e as ActorError).code));
    expect(await conn.whoami()).toBe("hank");
    token = "user:revoked";
    await conn.expire().catch(() => {});
    await waitFor(() => conn.status === "disconnected", { timeout: 20_000 });
    expect(errors).toEqual(["forbidden"]);
    expect((await failure(conn.whoami())).code).toBe("forbidden");
    await conn.dispose();
  });
});
