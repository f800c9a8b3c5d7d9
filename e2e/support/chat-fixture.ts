/**
 * One production chat server per test file, in its own scratch database, registered with the
 * file's hooks: started before the first test, stopped and dropped after the last, and its
 * output printed when a test fails. Also sign-in and the typed client.
 *
 * `signIn(displayName, org)` makes a new account the way people do: the first call for an
 * organisation creates it (that person is its admin), later calls join through its invite link
 * (`TestAccounts` of `troupe/accounts/test`). Every account's password is `E2E_PASSWORD`.
 *
 * @example
 * const chat = useChatServer();
 * it("answers", async () => {
 *   const { token } = await chat.signIn("Ada", "acme");
 *   const rooms = chat.client().chatRoomList.getOrCreate(["acme"], { params: { token } });
 * });
 */
import type { ChatRegistry } from "@troupe/template-chat/src/actors/index.js";
import { type JsonPost, jsonApi, type TestAccount, TestAccounts } from "troupe/accounts/test";
import { createClient } from "troupe/client";
import { createScratchDatabase } from "troupe/db";
import { afterAll, afterEach, beforeAll, inject } from "vitest";
import { type ChatProduction, startChatProduction } from "./chat-server.js";

export const E2E_PASSWORD = "e2e-password-1234";

/** An account `signIn` made; its `login` signs in with `E2E_PASSWORD`. */
export type SignedIn = TestAccount;

export interface ChatFixture {
  /** The running server (valid inside tests and hooks). */
  readonly server: ChatProduction;
  /** A typed client for the server's URL. */
  client(): ReturnType<typeof createClient<ChatRegistry>>;
  signIn(displayName: string, org: string): Promise<SignedIn>;
  /** The invite code of an organisation `signIn` created. */
  inviteCode(org: string): Promise<string>;
  /** `POST path` with a JSON body and an optional Bearer token. */
  post: JsonPost;
}

export function useChatServer(opts: { env?: Record<string, string> } = {}): ChatFixture {
  let server: ChatProduction | undefined;
  let dropDatabase: (() => Promise<void>) | undefined;

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

  const api = jsonApi(() => fixture.server.url);
  const accounts = new TestAccounts(api.post, E2E_PASSWORD);
  const fixture: ChatFixture = {
    get server() {
      if (!server) throw new Error("The chat server is not started yet (use it inside a test).");
      return server;
    },
    client: () => createClient<ChatRegistry>(fixture.server.url),
    signIn: (displayName, org) => accounts.signIn(displayName, org),
    inviteCode: (org) => accounts.inviteCode(org),
    post: api.post,
  };
  return fixture;
}
