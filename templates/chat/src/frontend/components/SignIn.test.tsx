// @vitest-environment happy-dom
// The sign-up form's own check, before the server's: the first empty field from the top is the
// one it names.
import { MIN_PASSWORD_LENGTH } from "troupe/accounts/rules";
import { describe, expect, it } from "vitest";
import { createProblem } from "./SignIn.js";

const account = { displayName: "Ada", login: "ada", password: "x".repeat(MIN_PASSWORD_LENGTH) };

describe("createProblem", () => {
  it("names the organisation first when everything is empty", () => {
    expect(createProblem("", { displayName: "", login: "", password: "" })).toBe(
      "Name your organisation.",
    );
    expect(createProblem("  ", account)).toBe("Name your organisation.");
  });

  it("then the account's fields, in the form's order", () => {
    expect(createProblem("Acme", { ...account, displayName: " " })).toBe("Enter your name.");
    expect(createProblem("Acme", { ...account, login: "" })).toBe(
      "Choose a username, or use your email.",
    );
    expect(createProblem("Acme", { ...account, password: "short" })).toBe(
      `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters.`,
    );
    expect(createProblem("Acme", account)).toBeNull();
  });
});
