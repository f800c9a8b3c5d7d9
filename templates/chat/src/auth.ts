/**
 * The chat's `AUTH_SECRET`: the variable, or in development one generated and kept in
 * `.troupe/` (see `troupe/secret`). Tokens, sessions and accounts themselves are
 * `troupe/accounts`, shared with the other templates.
 */
import { resolveAuthSecret as resolveSharedSecret } from "troupe/secret";

export function resolveAuthSecret(env: NodeJS.ProcessEnv = process.env, devSecretFile?: string) {
  return resolveSharedSecret(env, devSecretFile, "chat");
}
