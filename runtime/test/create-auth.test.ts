// Authorising creation: `onBeforeCreate` runs on every path that can create an actor (HTTP
// resolve, HTTP actions with getOrCreate/create, WebSocket init, c.client() with params) before
// anything is stored; `resolve` runs the connection hooks; and `conn.disconnect(reason,
// { reconnect: true })` (close 4003) brings the client back with fresh params.
import { actor, type BeforeCreateOptions, setup, UserError } from "troupe";
import type { ActorError } from "troupe/client";
import { captureLogger, setupTest, type TestRuntime, waitFor } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import WebSocket from "ws";

type Params = { token?: string } | undefined;
type Input = { owner: string } | undefined;

/** Who may create what: a token names its user; a vault is keyed by its owner. */
const seen: BeforeCreateOptions[] = [];
const vault = actor({
  onBeforeCreate: (c, opts) => {
    seen.push(opts);
    if (c.name !== "vault") throw new Error("the context names the actor");
    const user = (opts.params as Params)?.token?.replace(/^user:/, "");
    if (!user) throw new UserError("Sign in to create a vault.", { code: "auth_required" });
    if (opts.key[0] !== user) {
      throw new UserError("A vault is created by its owner.", { code: "forbidden" });
    }
    const input = opts.input as Input;
    if (input && input.owner !== user) {
      throw new UserError("The input names someone else.", { code: "forbidden" });
    }
  },
  createState: (_c: unknown, input: Input) => ({
    owner: input?.owner ?? "",
    items: [] as string[],
  }),
  createConnState: (c, params: Params): { user: string } => {
    const user = params?.token?.replace(/^user:/, "");
    if (!user || user !== c.key[0]) {
      throw new UserError("Not your vault.", { code: "forbidden" });
    }
    return { user };
  },
  actions: {
    owner: (c) => c.state.owner,
    put: (c, item: string) => {
      c.state.items.push(item);
      c.broadcast("item", c.state.items.length);
      return c.state.items.length;
    },
    expire: async (c) => {
      await c.conn!.disconnect("token expired", { reconnect: true });
    },
    whoami: (c) => c.conn!.state.user,
  },
});

/** Creates vaults from inside the process, with and without the caller's params. */
const concierge = actor({
  state: {},
  actions: {
    trusted: async (c, owner: string) =>
      c.client().vault.getOrCreate([owner], { createWithInput: { owner } }).resolve(),
    /** The vault's id, or the code of the error the vault's hooks refused with. */
    onBehalf: async (c, owner: string, token: string) =>
      c
        .client()
        .vault.getOrCreate([owner], { params: { token }, createWithInput: { owner } })
        .resolve()
        .catch((err: ActorError) => ({ refused: err.code })),
  },
});

const logger = captureLogger();
const registry = setup({ use: { vault, concierge }, logger });
let t: TestRuntime<typeof registry>;
afterEach(async () => {
  await t?.close();
  seen.length = 0;
  logger.clear();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${t.endpoint}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-test": "yes" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function exists(key: string[]): Promise<boolean> {
  return (await t.engine.driver.findActorByKey("vault", key)) !== undefined;
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
  const ws = new WebSocket(`${t.endpoint.replace(/^http/, "ws")}/actors/connect`);
  return new Promise((resolve, reject) => {
    let frame: any;
    ws.on("open", () => ws.send(JSON.stringify({ t: "init", actor: actorQuery, params })));
    ws.on("message", (data) => {
      frame ??= JSON.parse(String(data));
      if (frame.t === "welcome") ws.close();
    });
    ws.on("close", (code) => resolve({ frame, code }));
    ws.on("error", reject);
  });
}

describe("onBeforeCreate", () => {
  test("an anonymous caller creates nothing, on any path, and sees the hook's error", async () => {
    t = await setupTest(registry);
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

    expect(await exists(["alice"])).toBe(false);
    expect(seen).toHaveLength(4);
  });

  test("another user's key or a spoofed input is refused before anything is stored", async () => {
    t = await setupTest(registry);
    const wrongKey = t.client.vault.getOrCreate(["alice"], { params: { token: "user:eve" } });
    expect((await failure(wrongKey.resolve())).code).toBe("forbidden");
    const spoofed = t.client.vault.getOrCreate(["eve"], {
      params: { token: "user:eve" },
      createWithInput: { owner: "alice" },
    });
    expect((await failure(spoofed.owner())).code).toBe("forbidden");
    const ws = await wsInit(
      { name: "vault", key: ["alice"], mode: "getOrCreate" },
      { token: "user:eve" },
    );
    expect(ws.frame.error.code).toBe("forbidden");
    expect(await exists(["alice"])).toBe(false);
    expect(await exists(["eve"])).toBe(false);
  });

  test("the hook sees key, input, params and the request; it runs only for a creation", async () => {
    t = await setupTest(registry);
    const res = await post("/actors/action/owner", {
      actor: { name: "vault", key: ["bob"], mode: "getOrCreate", input: { owner: "bob" } },
      args: [],
      params: { token: "user:bob" },
    });
    expect(res.json).toEqual({ output: "bob" });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      key: ["bob"],
      input: { owner: "bob" },
      params: { token: "user:bob" },
    });
    expect(seen[0]!.request?.headers.get("x-test")).toBe("yes");

    // The actor exists now: getOrCreate, resolve and connect do not run the hook again.
    const handle = t.client.vault.getOrCreate(["bob"], { params: { token: "user:bob" } });
    await handle.resolve();
    const conn = handle.connect();
    expect(await conn.whoami()).toBe("bob");
    await conn.dispose();
    expect(seen).toHaveLength(1);
  });

  test("a WebSocket init creates with the connection's params", async () => {
    t = await setupTest(registry);
    const ws = await wsInit(
      { name: "vault", key: ["carol"], mode: "getOrCreate", input: { owner: "carol" } },
      { token: "user:carol" },
    );
    expect(ws.frame.t).toBe("welcome");
    expect(seen.map((s) => s.params)).toEqual([{ token: "user:carol" }]);
    expect(seen[0]!.request).toBeDefined();
    expect(await exists(["carol"])).toBe(true);
  });

  test("c.client() without params is trusted; with params the hook runs with them", async () => {
    t = await setupTest(registry);
    const concierge = t.client.concierge.getOrCreate(["c"]);
    await concierge.trusted("dave");
    expect(seen).toHaveLength(0);
    expect(await exists(["dave"])).toBe(true);

    expect(await concierge.onBehalf("erin", "user:mallory")).toEqual({ refused: "forbidden" });
    expect(await exists(["erin"])).toBe(false);
    await concierge.onBehalf("erin", "user:erin");
    expect(seen.map((s) => [s.key, s.params])).toEqual([
      [["erin"], { token: "user:mallory" }],
      [["erin"], { token: "user:erin" }],
    ]);
    expect(await exists(["erin"])).toBe(true);
  });

  test("a hook that throws a plain error refuses with internal_error and logs the detail", async () => {
    const broken = actor({
      onBeforeCreate: () => {
        throw new Error("database is down");
      },
      state: {},
      actions: { ping: () => "pong" },
    });
    const log = captureLogger();
    t = (await setupTest(setup({ use: { broken }, logger: log }))) as unknown as typeof t;
    const res = await post("/actors/resolve", { name: "broken", key: ["x"], mode: "getOrCreate" });
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe("internal_error");
    expect(JSON.stringify(res.json)).not.toContain("database is down");
    expect(log.find("error", "internal error")?.fields.error).toMatchObject({
      message: "database is down",
    });
    expect(await t.engine.driver.findActorByKey("broken", ["x"])).toBeUndefined();
  });
});

describe("resolve runs the connection hooks", () => {
  test("an unauthorised caller cannot learn an actor's id; an authorised one can", async () => {
    t = await setupTest(registry);
    const id = await t.client.vault
      .getOrCreate(["frank"], { params: { token: "user:frank" } })
      .resolve();
    const anonymous = await post("/actors/resolve", { name: "vault", key: ["frank"] });
    expect(anonymous.json.error.code).toBe("forbidden");
    const other = await failure(
      t.client.vault.get(["frank"], { params: { token: "user:eve" } }).resolve(),
    );
    expect(other.code).toBe("forbidden");
    expect(
      await t.client.vault.get(["frank"], { getParams: () => ({ token: "user:frank" }) }).resolve(),
    ).toBe(id);
  });
});

describe("conn.disconnect(reason, { reconnect: true })", () => {
  test("the client reconnects at once with fresh params and keeps its subscriptions", async () => {
    t = await setupTest(registry);
    let calls = 0;
    const handle = t.client.vault.getOrCreate(["gina"], {
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

  test("when the fresh params are refused, the connection ends with the hook's error", async () => {
    t = await setupTest(registry);
    let token = "user:hank";
    const conn = t.client.vault.getOrCreate(["hank"], { getParams: () => ({ token }) }).connect();
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
