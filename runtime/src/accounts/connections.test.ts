// Tokens and actors together, as a template wires them (the runtime README's example): creation
// and connections authorised from the verified token and the key, connections closed at their
// token's expiry (4003: the client comes back with a fresh token from getParams) and closed for
// good the moment their session is revoked (4000 with the reason).
import { afterEach, describe, expect, it } from "vitest";
import { actor } from "../actor/definition.js";
import { Forbidden } from "../actor/errors.js";
import type { ActorError } from "../client/errors.js";
import { setup } from "../registry/registry.js";
import { setupTest, type TestRuntime } from "../test/index.js";
import { waitFor } from "../test/wait.js";
import { Auth, type User } from "./auth.js";
import {
  clearAllTokenExpiries,
  type TokenTimers,
  tokenSessionOf,
  unwatchConnection,
  watchConnection,
} from "./connections.js";
import { SessionRevocations } from "./revocations.js";

const SECRET = "connections-test-secret-0123456789abcdef";

function notesRegistry(auth: Auth) {
  const notes = actor({
    state: { items: [] as string[] },
    // Creation is authorised: the key says whose notes these are, and only its owner creates them.
    onBeforeCreate: async (_c, { key, params }) => {
      const user = await auth.verify((params as { token?: string } | undefined)?.token);
      if (key[0] !== user.id) throw new Forbidden("These are not your notes.");
    },
    createVars: (): { tokenTimers: TokenTimers } => ({ tokenTimers: new Map() }),
    createConnState: async (
      c,
      params: { token?: string },
    ): Promise<{ user: User; sessionId: string; expiresAt: number }> => {
      const { user, sessionId, expiresAt } = await auth.verifyClaims(params?.token);
      if (c.key[0] !== user.id) throw new Forbidden("These are not your notes.");
      return { user, sessionId, expiresAt };
    },
    onConnect: (c, conn) => watchConnection(c.vars.tokenTimers, auth.revocations, conn),
    onDisconnect: (c, conn) => unwatchConnection(c.vars.tokenTimers, auth.revocations, conn),
    onSleep: (c) => clearAllTokenExpiries(c.vars.tokenTimers),
    actions: {
      add: (c, text: string) => {
        c.state.items.push(`${c.conn!.state.user.name}: ${text}`);
        return c.state.items.length;
      },
    },
  });
  return setup({ use: { notes } });
}

const ada: User = { id: "ada-id", name: "Ada", org: "acme" };
let t: TestRuntime<ReturnType<typeof notesRegistry>> | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe("an actor behind troupe/accounts tokens", () => {
  it("is created and joined by its owner only, identified by the token", async () => {
    const auth = new Auth({ secret: SECRET });
    t = await setupTest(notesRegistry(auth), { clock: "system" });
    const token = await auth.sign(ada);
    const mallory = await auth.sign({ id: "mallory-id", name: "Mallory", org: "acme" });

    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => "created",
        (e: ActorError) => e.code,
      );
    expect(await refusal(t.client.notes.getOrCreate(["ada-id"]).resolve())).toBe("auth_required");
    expect(
      await refusal(
        t.client.notes.getOrCreate(["ada-id"], { params: { token: mallory } }).resolve(),
      ),
    ).toBe("forbidden");
    const own = t.client.notes.getOrCreate(["ada-id"], { params: { token } });
    expect(await own.add("hello")).toBe(1);
    // Created now, the actor still refuses another person's connection.
    expect(
      await refusal(t.client.notes.get(["ada-id"], { params: { token: mallory } }).add("hi")),
    ).toBe("forbidden");
  });

  it("closes a connection at its token's expiry; it comes back with a fresh token", {
    timeout: 30_000,
  }, async () => {
    const auth = new Auth({ secret: SECRET, ttlSeconds: 2 });
    t = await setupTest(notesRegistry(auth), { clock: "system" });
    let issued = 0;
    const conn = t.client.notes
      .getOrCreate(["ada-id"], {
        getParams: async () => {
          issued++;
          return { token: await auth.sign(ada) };
        },
      })
      .connect();
    try {
      await waitFor(() => conn.status === "connected", { what: "the first connection" });
      await waitFor(() => issued >= 2 && conn.status === "connected", {
        timeout: 20_000,
        what: "a reconnect with a fresh token",
      });
      expect(await conn.add("still here")).toBeGreaterThan(0);
    } finally {
      await conn.dispose();
    }
  });

  it("closes a connection for good when its session is revoked", async () => {
    const revocations = new SessionRevocations(60 * 60_000);
    const auth = new Auth({ secret: SECRET, revocations });
    t = await setupTest(notesRegistry(auth), { clock: "system" });
    const token = await auth.sign(ada, "session-1");
    const other = await auth.sign(ada, "session-2");
    const conn = t.client.notes.getOrCreate(["ada-id"], { params: { token } }).connect();
    const stays = t.client.notes.getOrCreate(["ada-id"], { params: { token: other } }).connect();
    const errors: ActorError[] = [];
    conn.onError((e) => errors.push(e));
    try {
      await waitFor(() => conn.status === "connected" && stays.status === "connected", {
        what: "both connections",
      });
      expect(revocations.openConnections).toBe(2);
      revocations.revoke([{ id: "session-1", createdAt: new Date() }], "session_revoked");
      await waitFor(() => conn.status === "disconnected", { what: "the connection to stop" });
      expect(errors.map((e) => [e.code, e.metadata])).toEqual([
        ["connection_closed", { code: 4000, reason: "session_revoked" }],
      ]);
      // Its token is refused from now on; the other session's connection goes on.
      await expect(auth.verify(token)).rejects.toMatchObject({ code: "session_revoked" });
      expect(await stays.add("still here")).toBe(1);
      expect(revocations.openConnections).toBe(1);
    } finally {
      await conn.dispose();
      await stays.dispose();
    }
  });

  it("leaves alone a connection whose state carries no token session", () => {
    expect(tokenSessionOf({ kind: "internal" })).toBeUndefined();
    expect(tokenSessionOf({ sessionId: "s", expiresAt: "soon" })).toBeUndefined();
    expect(tokenSessionOf(undefined)).toBeUndefined();
    expect(tokenSessionOf({ user: ada, sessionId: "s", expiresAt: 5 })).toEqual({
      sessionId: "s",
      expiresAt: 5,
    });
  });
});
