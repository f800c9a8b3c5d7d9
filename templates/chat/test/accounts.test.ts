// The chat's side of accounts (troupe/accounts tests the accounts themselves): a token of one
// organisation, however it was obtained, opens none of another organisation's actors.
import { ActorError } from "troupe/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./helpers.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

describe("joining through an invite link", () => {
  it("never lands in another organisation's rooms", async () => {
    await app.signIn("Ada", "iso-a");
    await app.signIn("Bea", "iso-b");
    // B's link joins B: the resulting token is for B, and A's rooms refuse it.
    const eve = await app.post("/api/auth/join", {
      code: await app.inviteCode("iso-b"),
      displayName: "Eve",
      login: "eve",
      password: "member-password",
      // Input cannot pick the organisation.
      org: "iso-a",
      orgId: "iso-a",
    });
    expect(eve.status).toBe(201);
    expect(eve.body.user.org).toBe("iso-b");
    const list = app.client.chatRoomList.getOrCreate(["iso-a"], {
      params: { token: eve.body.token },
    });
    const err = await list.listRooms().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorError);
    expect((err as ActorError).code).toBe("forbidden");
  });
});
