/**
 * Argument checks for actions. Clients are untrusted: every argument goes through zod, and a
 * failure is a `UserError` with code `invalid_input` and the zod issues as metadata, so the UI
 * can say what is wrong instead of showing `internal_error`.
 *
 * Every string a person types that reaches SQL also goes through `withoutNul`: Postgres text
 * cannot hold the NUL character, and a message with one was accepted, then refused by Postgres
 * in the background, where nobody could tell the sender.
 */
import { UserError } from "troupe";
import type { z } from "zod";

export function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  throw new UserError(`Invalid ${what}: ${first?.message ?? "bad value"}`, {
    code: "invalid_input",
    metadata: { issues: result.error.issues.map((i) => ({ path: i.path, message: i.message })) },
  });
}

/** The string `schema` accepts, minus those with a NUL character, which SQL refuses. */
export { withoutNul } from "troupe/accounts";
