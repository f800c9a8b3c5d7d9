import { describe, expect, it } from "vitest";
import { MIN_ADMIN_PASSWORD_LENGTH as SERVER_MIN } from "../../admin-auth.js";
import { MIN_ADMIN_PASSWORD_LENGTH, newPasswordProblem } from "./setup.js";

describe("the first-run form's password rules", () => {
  it("are the server's: 12+ characters", () => {
    expect(MIN_ADMIN_PASSWORD_LENGTH).toBe(SERVER_MIN);
    expect(newPasswordProblem("elevenchars", "elevenchars")).toBe(
      "The admin password must be at least 12 characters long.",
    );
    expect(newPasswordProblem("twelve-chars", "twelve-chars")).toBeNull();
    expect(newPasswordProblem("x".repeat(1001), "x".repeat(1001))).toBe(
      "The admin password may be at most 1000 characters long.",
    );
  });

  it("want the password typed twice alike", () => {
    expect(newPasswordProblem("a-long-password", "a-long-passw0rd")).toBe(
      "The two passwords differ.",
    );
  });
});
