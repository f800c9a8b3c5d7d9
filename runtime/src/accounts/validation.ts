/**
 * Input checks shared by the account routes and the apps around them: a zod failure becomes a
 * `UserError` with code `invalid_input`, the first issue as its sentence and every issue in
 * `metadata.issues`; and `withoutNul` refuses the NUL character, which Postgres text cannot
 * hold (a value with one would be accepted, then refused by SQL where nobody could tell the
 * person).
 *
 * @example
 * const name = withoutNul(z.string().trim().min(1).max(40), "A display name");
 * parseBody(z.object({ name }), await c.req.json()); // throws invalid_input
 */
import type { z } from "zod";
import { UserError } from "../actor/errors.js";

/** The string `schema` accepts, minus those with a NUL character (`\u0000`), which SQL refuses. */
export function withoutNul<T extends z.ZodType<string>>(schema: T, what: string) {
  return schema.refine((s) => !s.includes("\u0000"), {
    message: `${what} cannot contain the NUL character (\\u0000).`,
  });
}

/** `input` as `schema` parses it, or `invalid_input` with the first issue's sentence. */
export function parseBody<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new UserError(parsed.error.issues[0]?.message ?? "Invalid input.", {
      code: "invalid_input",
      metadata: {
        issues: parsed.error.issues.map((i) => ({ path: i.path, message: i.message })),
      },
    });
  }
  return parsed.data;
}
