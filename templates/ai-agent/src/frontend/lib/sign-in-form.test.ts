import { describe, expect, it } from "vitest";
import { formProblem, type SignInFields } from "./sign-in-form.js";

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
      message: "Name your workspace.",
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
      message: "Enter your workspace.",
    });
    expect(formProblem("sign-in", { ...FULL, login: "" })?.message).toBe(
      "Enter your username or email.",
    );
  });

  it("asks for a long enough password to sign up, any password to sign in", () => {
    expect(formProblem("create", { ...FULL, password: "short" })).toEqual({
      field: "password",
      message: "Choose a password of at least 8 characters.",
    });
    expect(formProblem("join", { ...FULL, password: "1234567" })?.field).toBe("password");
    expect(formProblem("sign-in", { ...FULL, password: "short" })).toBeNull();
    expect(formProblem("sign-in", { ...FULL, password: "" })?.message).toBe("Enter your password.");
  });

  it("refuses a workspace name that makes no address", () => {
    expect(formProblem("create", { ...FULL, orgName: "!!!" })?.message).toBe(
      "Put some letters or digits in the workspace name.",
    );
  });

  it("passes a complete form", () => {
    for (const mode of ["sign-in", "create", "join"] as const) {
      expect(formProblem(mode, FULL)).toBeNull();
    }
  });
});
