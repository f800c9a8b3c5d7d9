// Organisations, invite links, passwords, sessions and revocation over HTTP, against a real
// server and Postgres: isolation between organisations holds only through these. (The chat
// tests, besides, that a token of one organisation opens none of another's actors.)
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashParams, hashPassword } from "./password.js";
import { slugify } from "./rules.js";
import { accounts, invites } from "./schema.js";
import {
  type AccountsTestApp,
  startAccountsTestApp,
  TEST_PASSWORD,
  TEST_SCRYPT,
} from "./test-app.js";

let app: AccountsTestApp;
beforeAll(async () => {
  app = await startAccountsTestApp();
});
afterAll(() => app?.close());

let seq = 0;
/** A fresh organisation per test, with its admin. */
async function newOrg(name = `Org ${++seq} ${Date.now().toString(36)}`) {
  const res = await app.post("/api/auth/organisations", {
    orgName: name,
    displayName: "Admin",
    login: "admin@example.com",
    password: "admin-password",
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as {
    token: string;
    user: { id: string; name: string; org: string };
    role: string;
    invite: { code: string; expiresAt: number };
  };
}

function join(code: string, login: string, extra: Record<string, unknown> = {}) {
  return app.post("/api/auth/join", {
    code,
    displayName: login,
    login,
    password: "member-password",
    ...extra,
  });
}

function signIn(org: string, login: string, password: string) {
  return app.post("/api/auth/sign-in", { org, login, password });
}

describe("creating an organisation", () => {
  it("makes its first person the admin, with an invite link, under a slug of its name", async () => {
    const res = await app.post("/api/auth/organisations", {
      orgName: "  Café Ünited!  ",
      displayName: " Ada ",
      login: "Ada@Example.COM",
      password: "correct horse",
    });
    expect(res.status).toBe(201);
    expect(res.body.user).toEqual({ id: expect.any(String), name: "Ada", org: "cafe-united" });
    expect(res.body.role).toBe("admin");
    expect(res.body.invite.code).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(res.body.invite.expiresAt).toBeGreaterThan(Date.now() + 6 * 24 * 3600_000);
    expect(await app.get("/api/me", res.body.token)).toEqual({
      status: 200,
      body: { user: res.body.user, role: "admin" },
    });
    // The login is case-insensitive.
    const again = await signIn("cafe-united", "ada@example.com", "correct horse");
    expect(again.status).toBe(200);
    expect(again.body.user).toEqual(res.body.user);
  });

  it("refuses a name whose slug is taken, and says what to do", async () => {
    const first = await newOrg("Globex Corp");
    expect(first.user.org).toBe("globex-corp");
    const res = await app.post("/api/auth/organisations", {
      orgName: "GLOBEX corp.",
      displayName: "Eve",
      login: "eve",
      password: "eve-password",
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("org_taken");
    expect(res.body.error.message).toMatch(/ask a member for its invite link/);
  });

  it("refuses bad input with invalid_input and a sentence", async () => {
    const good = { orgName: "Fine Org", displayName: "Ada", login: "ada", password: "long enough" };
    for (const [body, message] of [
      [{ ...good, password: "short" }, /at least 8 characters/],
      [{ ...good, password: "x".repeat(201) }, /at most 200/],
      [{ ...good, login: "a b" }, /letters, digits/],
      [{ ...good, login: "" }, /at least 2/],
      [{ ...good, displayName: "   " }, /display name/],
      [{ ...good, orgName: "!!" }, /at least 2 letters or digits/],
      [{ ...good, orgName: undefined }, /organisation's name/],
      // Postgres text cannot hold NUL: refused in words, not a failed insert (internal_error).
      [{ ...good, displayName: "Ada\u0000" }, /NUL/],
      [{ ...good, orgName: "Fine\u0000Org" }, /NUL/],
      ["not json", /JSON/],
    ] as const) {
      const res = await app.post("/api/auth/organisations", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("invalid_input");
      expect(res.body.error.message).toMatch(message);
    }
  });

  it("slugify keeps letters and digits, lower case, dashes between", () => {
    expect(slugify("Acme")).toBe("acme");
    expect(slugify("  Hello,   World  ")).toBe("hello-world");
    expect(slugify("Crème Brûlée 2")).toBe("creme-brulee-2");
    expect(slugify("x".repeat(50))).toHaveLength(40);
    expect(slugify("日本")).toBe("");
  });
});

describe("invite links", () => {
  it("let several people join, each with their own account", async () => {
    const org = await newOrg();
    const preview = await app.get(`/api/auth/invites/${org.invite.code}`);
    expect(preview.status).toBe(200);
    expect(preview.body.org.slug).toBe(org.user.org);

    const bo = await join(org.invite.code, "bo");
    const cy = await join(org.invite.code, "cy");
    expect(bo.status).toBe(201);
    expect(cy.status).toBe(201);
    expect(bo.body.user.org).toBe(org.user.org);
    expect(bo.body.role).toBe("member");
    expect(bo.body.user.id).not.toBe(cy.body.user.id);
    // A username is unique within the organisation.
    const dup = await join(org.invite.code, "BO");
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe("login_taken");

    const members = await app.get("/api/org/members", bo.body.token);
    expect(members.body.members.map((m: { login: string }) => m.login)).toEqual([
      "admin@example.com",
      "bo",
      "cy",
    ]);
    // Members see the current link, to pass it on.
    expect((await app.get("/api/org/invite", cy.body.token)).body.invite).toEqual(org.invite);
  });

  it("an unknown code is refused, and joining never lands in another organisation", async () => {
    const a = await newOrg();
    const b = await newOrg();
    // A's code with its last character changed (to one it does not already end with).
    const altered = a.invite.code.slice(0, -1) + (a.invite.code.endsWith("x") ? "y" : "x");
    for (const code of ["A".repeat(32), altered]) {
      const res = await join(code, "mallory");
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe("invite_invalid");
    }
    // B's link joins B: the resulting token is for B, and shows B's members only.
    const eve = await join(b.invite.code, "eve");
    expect(eve.body.user.org).toBe(b.user.org);
    expect((await app.auth.verify(eve.body.token)).org).toBe(b.user.org);
    const members = await app.get("/api/org/members", eve.body.token);
    expect(members.body.members.map((m: { login: string }) => m.login)).toEqual([
      "admin@example.com",
      "eve",
    ]);
    expect(members.body.members.map((m: { id: string }) => m.id)).not.toContain(a.user.id);
    // Input cannot pick the organisation.
    const sneaky = await join(b.invite.code, "eve2", { org: a.user.org, orgId: a.user.org });
    expect(sneaky.body.user.org).toBe(b.user.org);
  });

  it("an expired link is refused", async () => {
    const org = await newOrg();
    await app.db
      .update(invites)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(invites.code, org.invite.code));
    const res = await join(org.invite.code, "late");
    expect(res.status).toBe(410);
    expect(res.body.error.code).toBe("invite_expired");
    expect(res.body.error.message).toMatch(/expired/);
    expect((await app.get(`/api/auth/invites/${org.invite.code}`)).body.error.code).toBe(
      "invite_expired",
    );
    expect((await app.get("/api/org/invite", org.token)).body.invite).toBeNull();
  });

  it("an admin renews the link, which stops the old one; members cannot", async () => {
    const org = await newOrg();
    const bo = await join(org.invite.code, "bo");
    const denied = await app.post("/api/org/invite", undefined, bo.body.token);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("forbidden");

    const renewed = await app.post("/api/org/invite", undefined, org.token);
    expect(renewed.status).toBe(200);
    const code = renewed.body.invite.code as string;
    expect(code).not.toBe(org.invite.code);
    const old = await join(org.invite.code, "late");
    expect(old.body.error.code).toBe("invite_invalid");
    expect(old.body.error.message).toMatch(/replaced by a newer one/);
    expect((await join(code, "on-time")).status).toBe(201);
    expect((await app.get("/api/org/invite", bo.body.token)).body.invite.code).toBe(code);
  });
});

describe("signing in", () => {
  it("works with organisation, username and password", async () => {
    const org = await newOrg();
    const bo = await join(org.invite.code, "bo");
    const res = await signIn(org.user.org, "bo", "member-password");
    expect(res.status).toBe(200);
    expect(res.body.user).toEqual(bo.body.user);
    expect(res.body.role).toBe("member");
    expect((await app.get("/api/me", res.body.token)).body.user).toEqual(bo.body.user);
  });

  it("rehashes a password stored with older parameters at the next sign-in", async () => {
    const org = await newOrg();
    const bo = await join(org.invite.code, "bo");
    const older = await hashPassword("member-password", { N: 2 ** 9, r: 8, p: 1 });
    const db = app.db;
    await db.update(accounts).set({ passwordHash: older }).where(eq(accounts.id, bo.body.user.id));
    expect((await signIn(org.user.org, "bo", "member-password")).status).toBe(200);
    const [row] = await db.select().from(accounts).where(eq(accounts.id, bo.body.user.id));
    expect(hashParams(row!.passwordHash)).toEqual(TEST_SCRYPT);
    expect((await signIn(org.user.org, "bo", "member-password")).status).toBe(200);
  });

  it("refuses a NUL character in the organisation or username in words", async () => {
    const res = await signIn("acme\u0000", "ada", "whatever-password");
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_input");
    expect(res.body.error.message).toMatch(/NUL/);
  });

  it("says the same thing whatever was wrong", async () => {
    const a = await newOrg();
    const b = await newOrg();
    await join(b.invite.code, "bo");
    const attempts = [
      [a.user.org, "admin@example.com", "wrong-password"], // wrong password
      [a.user.org, "nobody", "admin-password"], // no such user
      ["no-such-org", "admin@example.com", "admin-password"], // no such org
      // A user of B with B's password cannot get a token for A.
      [a.user.org, "bo", "member-password"],
      ["Not A Slug!", "bo", "member-password"],
    ] as const;
    for (const [org, login, password] of attempts) {
      const res = await app.post("/api/auth/sign-in", { org, login, password }, undefined);
      expect(res.status, `${org}/${login}`).toBe(401);
      expect(res.body.error).toEqual({
        code: "invalid_credentials",
        message: "Wrong organisation, username or password.",
        metadata: null,
      });
    }
  });

  it("slows down repeated failures with too_many_attempts and Retry-After", async () => {
    const org = await newOrg();
    for (let i = 0; i < 5; i++) {
      expect((await signIn(org.user.org, "admin@example.com", `guess-${i}`)).status).toBe(401);
    }
    expect((await signIn(org.user.org, "admin@example.com", "guess-5")).status).toBe(401);
    const res = await fetch(`${app.url}/api/auth/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      // Even the right password must wait now.
      body: JSON.stringify({
        org: org.user.org,
        login: "admin@example.com",
        password: "admin-password",
      }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("too_many_attempts");
    expect(body.error.metadata.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(body.error.message).toMatch(/Wait \d+ seconds? and try again/);
  });
});

describe("sessions and revocation", () => {
  it("sign-out revokes that session: its token can no longer be refreshed", async () => {
    const ada = await app.signIn("Ada", "revoke-one");
    const other = await signIn("revoke-one", ada.login, TEST_PASSWORD);
    expect((await app.post("/api/auth/refresh", undefined, ada.token)).status).toBe(200);
    const out = await app.post("/api/auth/sign-out", undefined, ada.token);
    expect(out).toEqual({ status: 200, body: { revoked: 1 } });
    const refused = await app.post("/api/auth/refresh", undefined, ada.token);
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("session_revoked");
    // Another session of the same account is not affected.
    expect((await app.post("/api/auth/refresh", undefined, other.body.token)).status).toBe(200);
  });

  it("sign-out everywhere revokes every session of the account", async () => {
    const ada = await app.signIn("Ada", "revoke-all");
    const other = await signIn("revoke-all", ada.login, TEST_PASSWORD);
    const out = await app.post("/api/auth/sign-out", { everywhere: true }, ada.token);
    expect(out.body.revoked).toBe(2);
    for (const token of [ada.token, other.body.token]) {
      expect((await app.post("/api/auth/refresh", undefined, token)).body.error.code).toBe(
        "session_revoked",
      );
    }
    // Signing in again works.
    expect((await signIn("revoke-all", ada.login, TEST_PASSWORD)).status).toBe(200);
  });

  it("an admin removes a member: no refresh, no sign-in; members cannot remove", async () => {
    const admin = await app.signIn("Admin", "remove-org");
    const bo = await app.signIn("Bo", "remove-org");
    const cy = await app.signIn("Cy", "remove-org");
    const denied = await fetch(`${app.url}/api/org/members/${cy.user.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${bo.token}` },
    });
    expect(denied.status).toBe(403);

    const res = await fetch(`${app.url}/api/org/members/${bo.user.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${admin.token}` },
    });
    expect(res.status).toBe(200);
    const refused = await app.post("/api/auth/refresh", undefined, bo.token);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toMatchObject({
      code: "account_removed",
      message: "You were removed from this organisation.",
    });
    expect((await signIn("remove-org", bo.login, TEST_PASSWORD)).body.error.code).toBe(
      "invalid_credentials",
    );
    const members = await app.get("/api/org/members", admin.token);
    expect(members.body.members.map((m: { name: string }) => m.name)).toEqual(["Admin", "Cy"]);
    // An admin of another organisation cannot remove anyone here.
    const outsider = await app.signIn("Mallory", "remove-other");
    const cross = await fetch(`${app.url}/api/org/members/${cy.user.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${outsider.token}` },
    });
    expect(cross.status).toBe(404);
  });
});
