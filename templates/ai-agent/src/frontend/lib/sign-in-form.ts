/**
 * What is wrong with a sign-in form before it is sent, in words, checked in the page rather than
 * by the browser's validation bubbles (so it reads like the chat's sign-in and like the server's
 * own refusals, which check the same and more). Fields are checked top to bottom as each form
 * shows them: the first one left empty or wrong is the one reported, and focused.
 *
 * @example
 * formProblem("create", { orgName: "Acme", displayName: "", login: "ada", password: "x", org: "" });
 * // { field: "displayName", message: "Enter your name." }
 */
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, slugify } from "troupe/accounts/rules";

export type SignInMode = "sign-in" | "create" | "join";

export interface SignInFields {
  /** The workspace's address, to sign in to it. */
  org: string;
  /** A new workspace's name. */
  orgName: string;
  displayName: string;
  login: string;
  password: string;
}

export type SignInField = keyof SignInFields;

/** The fields each form shows, top to bottom (the order problems are reported in). */
export const FORM_FIELDS: Record<SignInMode, readonly SignInField[]> = {
  "sign-in": ["org", "login", "password"],
  create: ["orgName", "displayName", "login", "password"],
  join: ["displayName", "login", "password"],
};

export const PASSWORD_HINT = `At least ${MIN_PASSWORD_LENGTH} characters. A few words make a good one.`;

export interface FormProblem {
  field: SignInField;
  message: string;
}

export function formProblem(mode: SignInMode, fields: SignInFields): FormProblem | null {
  for (const field of FORM_FIELDS[mode]) {
    const message = fieldProblem(mode, field, fields[field]);
    if (message) return { field, message };
  }
  return null;
}

function fieldProblem(mode: SignInMode, field: SignInField, value: string): string | null {
  const signingIn = mode === "sign-in";
  switch (field) {
    case "org":
      return value.trim() ? null : "Enter your workspace.";
    case "orgName":
      if (!value.trim()) return "Name your workspace.";
      return slugify(value) ? null : "Put some letters or digits in the workspace name.";
    case "displayName":
      return value.trim() ? null : "Enter your name.";
    case "login":
      if (value.trim()) return null;
      return signingIn ? "Enter your username or email." : "Choose a username, or use your email.";
    case "password":
      if (signingIn) return value ? null : "Enter your password.";
      if (value.length < MIN_PASSWORD_LENGTH) {
        return `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters.`;
      }
      return value.length > MAX_PASSWORD_LENGTH
        ? `Choose a password of at most ${MAX_PASSWORD_LENGTH} characters.`
        : null;
  }
}
