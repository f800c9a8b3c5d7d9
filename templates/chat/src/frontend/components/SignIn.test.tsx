// @vitest-environment happy-dom
// The sign-up form's own check (the accounts' shared form checks, troupe/accounts/form), before
// the server's: the first empty or wrong field from the top is the one it names.
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

  it("refuses in the page what the server would: a name without two letters or digits, a username with spaces", () => {
    expect(createProblem("!!!", account)).toBe(
      "Put at least 2 letters or digits in the organisation's name.",
    );
    expect(createProblem("Acme", { ...account, login: "Ada Lovelace" })).toBe(
      "A username uses letters, digits and . _ - + @ (an email address works).",
    );
  });
});
