import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { Auth } from "./auth.js";

const auth = new Auth("test-secret-0123456789abcdef0123456789abcdef");
const other = new Auth("another-secret-0123456789abcdef0123456789ab");

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "no error",
    (err: { code?: string }) => err.code ?? String(err),
  );
}

describe("guest tokens", () => {
  it("carry the player id and name", async () => {
    const token = await auth.signGuest({ id: "p-1", name: "Ada" });
    expect(await auth.verifyGuest(token)).toEqual({ id: "p-1", name: "Ada" });
  });

  it("are refused with distinct codes when missing, expired, forged or a ticket", async () => {
    expect(await codeOf(auth.verifyGuest(undefined))).toBe("auth_required");
    expect(await codeOf(auth.verifyGuest(await auth.signGuest({ id: "p", name: "A" }, -5)))).toBe(
      "token_expired",
    );
    expect(await codeOf(auth.verifyGuest(await other.signGuest({ id: "p", name: "A" })))).toBe(
      "invalid_token",
    );
    expect(await codeOf(auth.verifyGuest(await auth.signTicket("p", "m")))).toBe("invalid_token");
    expect(await codeOf(auth.verifyGuest(42))).toBe("invalid_token");
  });
});

describe("match tickets", () => {
  it("name the player, for the match they were made for", async () => {
    expect(await auth.verifyTicket(await auth.signTicket("p-1", "m-1"), "m-1")).toBe("p-1");
  });

  it("are refused with distinct codes: none, another match, expired, forged", async () => {
    expect(await codeOf(auth.verifyTicket("", "m-1"))).toBe("ticket_required");
    expect(await codeOf(auth.verifyTicket(await auth.signTicket("p", "m-2"), "m-1"))).toBe(
      "ticket_wrong_match",
    );
    expect(await codeOf(auth.verifyTicket(await auth.signTicket("p", "m-1", -5), "m-1"))).toBe(
      "ticket_expired",
    );
    expect(await codeOf(auth.verifyTicket(await other.signTicket("p", "m-1"), "m-1"))).toBe(
      "ticket_invalid",
    );
    // A guest token is not a ticket, and neither is an unsigned token.
    expect(
      await codeOf(auth.verifyTicket(await auth.signGuest({ id: "p", name: "A" }), "m-1")),
    ).toBe("ticket_invalid");
    const unsigned = await new SignJWT({ mid: "m-1" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("p")
      .setAudience("troupe-game:ticket")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("guessed"));
    expect(await codeOf(auth.verifyTicket(unsigned, "m-1"))).toBe("ticket_invalid");
  });
});
