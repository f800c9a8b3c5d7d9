// Refusals of the authentication hooks (`onBeforeCreate`, `onBeforeConnect`, `createConnState`)
// answer 401 or 403 on every HTTP route when they say `Unauthorized` / `Forbidden` (or a plain
// `UserError` with code `unauthorized` / `forbidden`, as the RivetKit docs throw), keep their own
// codes, and refuse a WebSocket `init` with that code and close 4001; on Node and on workerd.
import { ActorError } from "troupe/client";
import { afterEach, describe, expect, test } from "vitest";
import { authStatusRegistry, type Params } from "./fixtures/suites/auth-status.js";
import { openRaw } from "./protocol-client.js";
import { type Served, serve, TARGETS } from "./spec-targets.js";

const registry = authStatusRegistry();
let t: Served<typeof registry> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function post(path: string, body: unknown) {
  const res = await fetch(`${t!.endpoint}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  return { status: res.status, code: json.error?.code, header: res.headers.get("x-troupe-error") };
}

const vaultOf = (owner: string, mode = "getOrCreate") => ({ name: "vault", key: [owner], mode });

// On workerd the actors outlive a test (one process per file): each test uses vaults of its own.
describe.each(TARGETS)("authentication refusals on %s", (target) => {
  test("HTTP resolve and actions: 401 without or with a bad token, 403 for someone else's", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry);
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
    t = await serve(target, registry);
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
    t = await serve(target, registry);
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
    t = await serve(target, registry);
    const err = await t.client.vault
      .getOrCreate(["carol"], { params: { token: "user:eve" } })
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
