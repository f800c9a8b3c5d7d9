// Refusals of the authentication hooks (`onBeforeCreate`, `onBeforeConnect`, `createConnState`)
// answer 401 or 403 on every HTTP route when they say `Unauthorized` / `Forbidden` (or a plain
// `UserError` with code `unauthorized` / `forbidden`, as the RivetKit docs throw), keep their own
// codes, and refuse a WebSocket `init` with that code and close 4001.
import { actor, Forbidden, setup, Unauthorized, UserError } from "troupe";
import { ActorError } from "troupe/client";
import { setupTest, type TestRuntime } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { openRaw } from "./protocol-client.js";

type Params = { token?: string } | undefined;

/** Token "user:<name>" names a user; "expired" is a stale one; a vault is keyed by its owner. */
function who(params: Params): string {
  const token = params?.token;
  if (!token) throw new Unauthorized("Sign in first.");
  if (token === "expired") throw new Unauthorized("The token expired.", { code: "token_expired" });
  if (!token.startsWith("user:")) throw new UserError("Not a token.", { code: "unauthorized" });
  return token.slice(5);
}

const vault = actor({
  onBeforeCreate: (_c, { key, params }) => {
    if (key[0] !== who(params as Params)) throw new Forbidden("A vault is created by its owner.");
  },
  state: { items: 0 },
  createConnState: (c, params: Params): { user: string } => {
    const user = who(params);
    if (user !== c.key[0]) {
      throw new Forbidden("Not your vault.", { code: "not_your_vault", metadata: { user } });
    }
    return { user };
  },
  actions: { whoami: (c) => c.conn!.state.user },
});

/** `onBeforeConnect` alone, refusing with the docs' plain `UserError` code "forbidden". */
const door = actor({
  state: {},
  onBeforeConnect: (_c, params: Params) => {
    if (params?.token !== "open sesame") throw new UserError("Forbidden", { code: "forbidden" });
  },
  actions: {
    knock: () => "come in",
    refuse: () => {
      throw new UserError("No.", { code: "nope" });
    },
  },
});

const registry = setup({ use: { vault, door } });
let t: TestRuntime<typeof registry>;
afterEach(() => t?.close());

async function post(path: string, body: unknown) {
  const res = await fetch(`${t.endpoint}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  return { status: res.status, code: json.error?.code, header: res.headers.get("x-troupe-error") };
}

const vaultOf = (owner: string, mode = "getOrCreate") => ({ name: "vault", key: [owner], mode });

describe("authentication refusals", () => {
  test("HTTP resolve and actions: 401 without or with a bad token, 403 for someone else's", async () => {
    t = await setupTest(registry);
    const cases: [Params, number, string][] = [
      [undefined, 401, "unauthorized"],
      [{ token: "expired" }, 401, "token_expired"],
      [{ token: "garbage" }, 401, "unauthorized"],
      [{ token: "user:eve" }, 403, "forbidden"],
    ];
    for (const [params, status, code] of cases) {
      const resolved = await post("/actors/resolve", { ...vaultOf("alice"), params });
      expect([params, resolved.status, resolved.code, resolved.header]).toEqual([
        params,
        status,
        code,
        code,
      ]);
      const action = await post("/actors/action/whoami", {
        actor: vaultOf("alice"),
        args: [],
        params,
      });
      expect([params, action.status, action.code]).toEqual([params, status, code]);
    }
    // The vault exists now: createConnState refuses, with its own code and status 403.
    expect(
      (await post("/actors/resolve", { ...vaultOf("alice"), params: { token: "user:alice" } }))
        .status,
    ).toBe(200);
    const other = await post("/actors/action/whoami", {
      actor: vaultOf("alice", "get"),
      args: [],
      params: { token: "user:eve" },
    });
    expect([other.status, other.code]).toEqual([403, "not_your_vault"]);
    const stale = await post("/actors/action/whoami", {
      actor: vaultOf("alice", "get"),
      args: [],
      params: { token: "expired" },
    });
    expect([stale.status, stale.code]).toEqual([401, "token_expired"]);
  });

  test("onBeforeConnect's plain UserError with code forbidden is a 403; other codes stay 400", async () => {
    t = await setupTest(registry);
    const door = { name: "door", key: ["front"], mode: "getOrCreate" };
    const refused = await post("/actors/action/knock", {
      actor: door,
      args: [],
      params: { token: "x" },
    });
    expect([refused.status, refused.code]).toEqual([403, "forbidden"]);
    const open = { token: "open sesame" };
    expect(
      (await post("/actors/action/knock", { actor: door, args: [], params: open })).status,
    ).toBe(200);
    const other = await post("/actors/action/refuse", { actor: door, args: [], params: open });
    expect([other.status, other.code]).toEqual([400, "nope"]);
  });

  test("WebSocket init: the refusal's code in the error frame, then close 4001", async () => {
    t = await setupTest(registry);
    await t.client.vault.getOrCreate(["alice"], { params: { token: "user:alice" } }).resolve();
    for (const [params, code] of [
      [undefined, "unauthorized"],
      [{ token: "expired" }, "token_expired"],
      [{ token: "user:eve" }, "not_your_vault"],
    ] as const) {
      const raw = await openRaw(t.endpoint);
      raw.send({ t: "init", actor: vaultOf("alice", "get"), params });
      const frame = await raw.next((m) => m.t === "error");
      expect(frame.error.code).toBe(code);
      expect(await raw.closed).toEqual({ code: 4001, reason: code });
    }
  });

  test("the typed client gets the code as an ActorError and its connection stops", async () => {
    t = await setupTest(registry);
    const err = await t.client.vault
      .getOrCreate(["alice"], { params: { token: "user:eve" } })
      .whoami()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorError);
    expect((err as ActorError).code).toBe("forbidden");
    const conn = t.client.vault.getOrCreate(["bob"], { params: { token: "expired" } }).connect();
    const refusal = await new Promise<ActorError>((resolve) => conn.onError(resolve));
    expect(refusal.code).toBe("token_expired");
    await conn.dispose();
  });
});
