/**
 * One production chat server per test file, in its own scratch database, registered with the
 * file's hooks: started before the first test, stopped and dropped after the last, and its
 * output printed when a test fails. Also sign-in and the typed client.
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

export interface SignedIn {
  token: string;
  user: { id: string; name: string; org: string };
}

export interface ChatFixture {
  /** The running server (valid inside tests and hooks). */
  readonly server: ChatProduction;
  /** A typed client for the server's URL. */
  client(): ReturnType<typeof createClient<ChatRegistry>>;
  signIn(displayName: string, org: string): Promise<SignedIn>;
}

export function useChatServer(): ChatFixture {
  let server: ChatProduction | undefined;
  let dropDatabase: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const scratch = await createScratchDatabase(inject("databaseUrl"));
    dropDatabase = scratch.drop;
    server = await startChatProduction({ databaseUrl: scratch.url });
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
      const res = await fetch(`${fixture.server.url}/api/auth/sign-in`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ displayName, org }),
      });
      if (!res.ok) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
      return (await res.json()) as SignedIn;
    },
  };
  return fixture;
}
