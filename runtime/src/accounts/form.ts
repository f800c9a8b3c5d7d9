/**
 * `troupe/accounts/form`: what is wrong with a sign-in page's form before it is sent, in words,
 * with the rules the server applies (`./rules.ts`), so a page can name and focus the field at
 * fault instead of showing the browser's validation bubbles or a round trip's refusal. Fields are
 * checked top to bottom as each form shows them: the first one empty or wrong is reported. The
 * server still checks everything (and more: a taken username, a wrong password).
 *
 * Every template with accounts uses it, each in its own words for an organisation (`org`: the
 * chat says "organisation", the AI agent "workspace").
 *
 * @example
 * formProblem("create", { orgName: "Acme", displayName: "", login: "ada", password: "x", org: "" });
 * // { field: "displayName", message: "Enter your name." }
 */
import {
  LOGIN_PATTERN,
  LOGIN_PATTERN_HINT,
  MAX_PASSWORD_LENGTH,
  MIN_LOGIN_LENGTH,
  MIN_PASSWORD_LENGTH,
  MIN_SLUG_LENGTH,
  slugify,
} from "./rules.js";

/** Sign in to an organisation, create one, or join one from an invite. */
export type SignInMode = "sign-in" | "create" | "join";

export interface SignInFields {
  /** The organisation's short name (its slug), to sign in to it. */
  org: string;
  /** A new organisation's name. */
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

export interface FormWords {
  /** What the page calls an organisation (default "organisation"). */
  org?: string;
}

export function formProblem(
  mode: SignInMode,
  fields: SignInFields,
  words: FormWords = {},
): FormProblem | null {
  const org = words.org ?? "organisation";
  for (const field of FORM_FIELDS[mode]) {
    const message = fieldProblem(mode, field, fields[field], org);
    if (message) return { field, message };
  }
  return null;
}

function fieldProblem(
  mode: SignInMode,
  field: SignInField,
  value: string,
  org: string,
): string | null {
  const signingIn = mode === "sign-in";
  switch (field) {
    case "org":
      return value.trim() ? null : `Enter your ${org}.`;
    case "orgName":
      if (!value.trim()) return `Name your ${org}.`;
      return slugify(value).length >= MIN_SLUG_LENGTH
        ? null
        : `Put at least ${MIN_SLUG_LENGTH} letters or digits in the ${org}'s name.`;
    case "displayName":
      return value.trim() ? null : "Enter your name.";
    case "login": {
      const login = value.trim().toLowerCase();
      if (!login) {
        return signingIn
          ? "Enter your username or email."
          : "Choose a username, or use your email.";
      }
      // Signing in, any login may be tried: a wrong one fails like a wrong password.
      if (signingIn) return null;
      if (login.length < MIN_LOGIN_LENGTH) {
        return `Choose a username of at least ${MIN_LOGIN_LENGTH} characters.`;
      }
      return LOGIN_PATTERN.test(login) ? null : LOGIN_PATTERN_HINT;
    }
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
