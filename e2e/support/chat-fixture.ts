/**
 * One production chat server per test file, in its own scratch database, registered with the
 * file's hooks: started before the first test, stopped and dropped after the last, and its
 * output printed when a test fails. Also sign-in and the typed client.
 *
 * `signIn(displayName, org)` makes a new account the way people do: the first call for an
 * organisation creates it (that person is its admin), later calls join through its invite link.
 * Every account's password is `E2E_PASSWORD`.
 *
 * @example
 * const chat = useChatServer();
 * it("answers", async () => {
 *   const { token } = await chat.signIn("Ada", "acme");
 *   const rooms = chat.client().chatRoomList.getOrCreate(["acme"], { params: { token } });
 * });
 */
import type { ChatRegistry } from "@troupe/template-chat/src/actors/index.js";
import { createClient } from "troupe/client";
import { createScratchDatabase } from "troupe/db";
import { afterAll, afterEach, beforeAll, inject } from "vitest";
import { type ChatProduction, startChatProduction } from "./chat-server.js";

export const E2E_PASSWORD = "e2e-password-1234";

export interface SignedIn {
  token: string;
  user: { id: string; name: string; org: string };
  role: "admin" | "member";
  /** The username the account signs in with (password `E2E_PASSWORD`). */
  login: string;
}

export interface ChatFixture {
  /** The running server (valid inside tests and hooks). */
  readonly server: ChatProduction;
  /** A typed client for the server's URL. */
  client(): ReturnType<typeof createClient<ChatRegistry>>;
  signIn(displayName: string, org: string): Promise<SignedIn>;
  /** The invite code of an organisation `signIn` created. */
  inviteCode(org: string): Promise<string>;
  /** `POST path` with a JSON body and an optional Bearer token. */
  post(path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
}

export function useChatServer(opts: { env?: Record<string, string> } = {}): ChatFixture {
  let server: ChatProduction | undefined;
  let dropDatabase: (() => Promise<void>) | undefined;
  const invites = new Map<string, Promise<string>>();
  let accountSeq = 0;

  beforeAll(async () => {
    const scratch = await createScratchDatabase(inject("databaseUrl"));
    dropDatabase = scratch.drop;
    server = await startChatProduction({ databaseUrl: scratch.url, env: opts.env });
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail" && server) {
      console.error(`--- chat server output (${ctx.task.name}) ---\n${server.output()}\n---`);
    }
  });

  afterAll(async () => {
    await server?.close();
    await dropDatabase?.();
  });

  const fixture: ChatFixture = {
    get server() {
      if (!server) throw new Error("The chat server is not started yet (use it inside a test).");
      return server;
    },
    client: () => createClient<ChatRegistry>(fixture.server.url),
    async signIn(displayName, org) {
      const login = `${displayName.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-${++accountSeq}`;
      const account = { displayName, login, password: E2E_PASSWORD };
      const code = invites.get(org);
      if (!code) {
        const created = fixture
          .post("/api/auth/organisations", { orgName: org, ...account })
          .then((res) => {
            if (res.status !== 201) throw new Error(`creating ${org}: ${JSON.stringify(res.body)}`);
            return res.body as SignedIn & { invite: { code: string } };
          });
        const code = created.then((c) => c.invite.code);
        // Awaited by later calls; a failure is reported by this call, not as unhandled.
        code.catch(() => {});
        invites.set(org, code);
        const { invite: _invite, ...signedIn } = await created;
        return { ...signedIn, login };
      }
      const res = await fixture.post("/api/auth/join", { code: await code, ...account });
      if (res.status !== 201) throw new Error(`joining ${org}: ${JSON.stringify(res.body)}`);
      return { ...(res.body as SignedIn), login };
    },
    async inviteCode(org) {
      const code = invites.get(org);
      if (!code) throw new Error(`No organisation "${org}" was created by signIn.`);
      return code;
    },
    async post(path, body, token) {
      const res = await fetch(`${fixture.server.url}${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    },
  };
  return fixture;
}
