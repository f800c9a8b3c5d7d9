import { ActorError } from "../client/errors.js";

/**
 * The `ActorError` a call fails with, to assert on its `code` and `metadata`; a call that
 * succeeds, or fails with anything else, fails the test.
 *
 * @example
 * expect((await errorOf(handle.join("full-room"))).code).toBe("room_full");
 */
export async function errorOf(call: Promise<unknown>): Promise<ActorError> {
  const err = await call.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  );
  if (!(err instanceof ActorError)) throw new Error(`expected an ActorError, got ${String(err)}`);
  return err;
}
