/**
 * The signing secret of an app's tokens: `AUTH_SECRET`. In production its absence (or a short
 * one) is fatal: tokens signed with a random secret would die with the process and differ
 * between replicas. In development a random one is generated once and kept in a file (its path
 * is printed, never the secret), so that a hot reload or a restart does not sign everybody out.
 *
 * @example
 * const secret = resolveAuthSecret(process.env, ".troupe/dev-auth-secret", "chat");
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** The shortest AUTH_SECRET production accepts. */
export const MIN_AUTH_SECRET_LENGTH = 32;

export function resolveAuthSecret(
  env: NodeJS.ProcessEnv = process.env,
  devSecretFile = join(".troupe", "dev-auth-secret"),
  app = "troupe",
): string {
  const secret = env.AUTH_SECRET;
  if (secret) {
    if (env.NODE_ENV === "production" && secret.length < MIN_AUTH_SECRET_LENGTH) {
      throw new Error(
        `AUTH_SECRET must be at least ${MIN_AUTH_SECRET_LENGTH} characters in production.`,
      );
    }
    return secret;
  }
  if (env.NODE_ENV === "production") {
    throw new Error(
      "AUTH_SECRET is not set. Set it to a random string of 32+ characters (e.g. `openssl rand -hex 32`).",
    );
  }
  if (existsSync(devSecretFile)) return readFileSync(devSecretFile, "utf8").trim();
  const generated = randomBytes(32).toString("hex");
  mkdirSync(dirname(devSecretFile), { recursive: true });
  writeFileSync(devSecretFile, generated, { mode: 0o600 });
  console.log(
    `[${app}] AUTH_SECRET is not set: generated a development secret, kept in ${devSecretFile} (not printed).`,
  );
  return generated;
}
