import { describe, expect, it } from "vitest";
import { parseNewOrganisation } from "./accounts.js";
import { formProblem, type SignInFields } from "./form.js";
import { MIN_PASSWORD_LENGTH } from "./rules.js";

const EMPTY: SignInFields = { org: "", orgName: "", displayName: "", login: "", password: "" };
const FULL: SignInFields = {
  org: "acme",
  orgName: "Acme",
  displayName: "Ada",
  login: "ada",
  password: "a-long-password",
};

describe("sign-in form checks", () => {
  it("reports the first field in form order, top to bottom", () => {
    expect(formProblem("create", EMPTY)).toEqual({
      field: "orgName",
      message: "Name your organisation.",
    });
    // The name above a short password below it.
    expect(formProblem("create", { ...FULL, displayName: " ", password: "short" })).toEqual({
      field: "displayName",
      message: "Enter your name.",
    });
    expect(formProblem("create", { ...FULL, login: "", password: "short" })?.field).toBe("login");
    expect(formProblem("join", EMPTY)?.field).toBe("displayName");
    expect(formProblem("sign-in", EMPTY)).toEqual({
      field: "org",
      message: "Enter your organisation.",
    });
    expect(formProblem("sign-in", { ...FULL, login: "" })?.message).toBe(
      "Enter your username or email.",
    );
  });

  it("speaks of an organisation in the page's own word", () => {
    expect(formProblem("create", EMPTY, { org: "workspace" })?.message).toBe(
      "Name your workspace.",
    );
    expect(formProblem("sign-in", EMPTY, { org: "workspace" })?.message).toBe(
      "Enter your workspace.",
    );
  });

  it("asks for a long enough password to sign up, any password to sign in", () => {
    expect(formProblem("create", { ...FULL, password: "short" })).toEqual({
      field: "password",
      message: `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters.`,
    });
    expect(formProblem("join", { ...FULL, password: "1234567" })?.field).toBe("password");
    expect(formProblem("join", { ...FULL, password: "x".repeat(201) })?.message).toBe(
      "Choose a password of at most 200 characters.",
    );
    expect(formProblem("sign-in", { ...FULL, password: "short" })).toBeNull();
    expect(formProblem("sign-in", { ...FULL, password: "" })?.message).toBe("Enter your password.");
  });

  it("refuses, as the server does, a name without two letters or digits and a username it cannot take", () => {
    expect(formProblem("create", { ...FULL, orgName: "!!!" })?.message).toBe(
      "Put at least 2 letters or digits in the organisation's name.",
    );
    expect(formProblem("create", { ...FULL, orgName: "A!" }, { org: "workspace" })).toEqual({
      field: "orgName",
      message: "Put at least 2 letters or digits in the workspace's name.",
    });
    expect(formProblem("join", { ...FULL, login: "a" })?.message).toBe(
      "Choose a username of at least 2 characters.",
    );
    expect(formProblem("join", { ...FULL, login: "Ada Lovelace" })?.field).toBe("login");
    // An email address is a username; case does not matter (the server lower-cases it).
    expect(formProblem("join", { ...FULL, login: " Ada@Example.com " })).toBeNull();
    // Signing in, any username may be tried: a wrong one fails like a wrong password.
    expect(formProblem("sign-in", { ...FULL, login: "Ada Lovelace" })).toBeNull();
  });

  it("passes a complete form", () => {
    for (const mode of ["sign-in", "create", "join"] as const) {
      expect(formProblem(mode, FULL)).toBeNull();
    }
  });

  it("lets through only what the server's own rules take", () => {
    // The same inputs against the server's parser: what the form passes, the server accepts.
    const accepts = (fields: SignInFields) => {
      try {
        parseNewOrganisation({
          orgName: fields.orgName,
          displayName: fields.displayName,
          login: fields.login,
          password: fields.password,
        });
        return true;
      } catch {
        return false;
      }
    };
    for (const orgName of ["Acme", "ab", "A!", "!!!", "Café Ünited"]) {
      for (const login of ["ada", "a", "Ada Lovelace", "ada@example.com", "-ada"]) {
        const fields = { ...FULL, orgName, login };
        expect(formProblem("create", fields) === null, `${orgName} / ${login}`).toBe(
          accepts(fields),
        );
      }
    }
  });
});
