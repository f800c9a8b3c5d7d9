import { ActorError } from "troupe/client";
import { describe, expect, it } from "vitest";
import { describeError, errorCode, reasonCode, tidyServerMessage } from "./errors.js";

describe("describeError", () => {
  it("explains session problems in words", () => {
    expect(describeError(new ActorError("token_expired", "x"))).toBe(
      "Your session expired. Please sign in again.",
    );
    expect(describeError(new ActorError("invalid_token", "x"))).toBe(
      "Your session is not valid any more. Please sign in again.",
    );
    expect(describeError(new ActorError("auth_required", "x"))).toMatch(/not signed in/);
  });

  it("explains the chat's own refusals", () => {
    expect(describeError(new ActorError("room_not_found", "There is no such room."))).toMatch(
      /This room does not exist/,
    );
    expect(describeError(new ActorError("too_many_rooms", "At most 500."))).toMatch(
      /limit of rooms/,
    );
  });

  it("shows the server's own words for input problems, without the 'Invalid x:' prefix", () => {
    expect(
      describeError(new ActorError("invalid_input", "Invalid room name: A room needs a name.")),
    ).toBe("A room needs a name.");
    expect(
      describeError(new ActorError("forbidden", "Only its author can change a message.")),
    ).toBe("Only its author can change a message.");
    expect(describeError(new ActorError("invalid_input", ""))).toBe("That input is not valid.");
    expect(describeError({ code: "forbidden" })).toBe("You are not allowed to do that.");
  });

  it("turns connection problems into sentences, not developer messages", () => {
    for (const code of ["network_error", "connection_unavailable", "connection_lost"]) {
      const text = describeError(
        new ActorError(code, `"send" was not sent: the connection to actor "chatRoom"...`),
      );
      expect(text).not.toContain("actor");
      expect(text.length).toBeGreaterThan(20);
    }
    expect(describeError(new TypeError("Failed to fetch"))).toMatch(/Cannot reach the chat server/);
  });

  it("has a fallback for anything else", () => {
    expect(describeError(new ActorError("brand_new_code", "dev text"))).toBe(
      "Something went wrong. Please try again.",
    );
    expect(describeError(undefined)).toBe("Something went wrong. Please try again.");
    expect(describeError("boom")).toBe("Something went wrong. Please try again.");
  });
});

describe("helpers", () => {
  it("tidyServerMessage adds a full stop and strips the prefix", () => {
    expect(tidyServerMessage("Invalid message: A message cannot be empty.")).toBe(
      "A message cannot be empty.",
    );
    expect(tidyServerMessage("Pick a time in the future")).toBe("Pick a time in the future.");
  });

  it("errorCode reads a string code only", () => {
    expect(errorCode(new ActorError("forbidden", "x"))).toBe("forbidden");
    expect(errorCode({ code: 3 })).toBeUndefined();
    expect(errorCode(null)).toBeUndefined();
  });
});

describe("reasonCode", () => {
  it("reads why the server closed a connection when it ended the session", () => {
    const closed = (reason: string) =>
      new ActorError("connection_closed", "closed", { code: 4000, reason });
    expect(reasonCode(closed("session_revoked"))).toBe("session_revoked");
    expect(reasonCode(closed("account_removed"))).toBe("account_removed");
    // Any other reason stays a plain closed connection.
    expect(reasonCode(closed("kicked by a moderator"))).toBe("connection_closed");
    expect(reasonCode(new ActorError("token_expired", "x"))).toBe("token_expired");
    expect(reasonCode(new Error("x"))).toBeUndefined();
  });

  it("says a session that is over is over", () => {
    expect(describeError(new ActorError("session_expired", "x"))).toMatch(/session is over/);
  });
});
