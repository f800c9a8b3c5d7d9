/** Where things are, from the e2e package's point of view. */
import { join } from "node:path";

export const REPO_ROOT = join(import.meta.dirname, "..", "..");
export const E2E_DIR = join(REPO_ROOT, "e2e");
export const CHAT_DIR = join(REPO_ROOT, "templates", "chat");
/** The built frontend: what the chat's `build` script produces and its `start` script serves. */
export const CHAT_DIST = join(CHAT_DIR, "dist", "public");
/** The built server, which the `start` script runs with `node`. */
export const CHAT_SERVER_ENTRY = join(CHAT_DIR, "dist", "server", "main.js");
export const GAME_DIR = join(REPO_ROOT, "templates", "game");
export const GAME_DIST = join(GAME_DIR, "dist", "public");
export const GAME_SERVER_ENTRY = join(GAME_DIR, "dist", "server", "main.js");
export const AI_AGENT_DIR = join(REPO_ROOT, "templates", "ai-agent");
export const AI_AGENT_DIST = join(AI_AGENT_DIR, "dist", "public");
export const AI_AGENT_SERVER_ENTRY = join(AI_AGENT_DIR, "dist", "server", "main.js");
export const RATE_LIMITER_DIR = join(REPO_ROOT, "templates", "rate-limiter");
/** The rate limiter's built dashboard, which its `start` script serves. */
export const RATE_LIMITER_DIST = join(RATE_LIMITER_DIR, "dist", "public");
export const RATE_LIMITER_SERVER_ENTRY = join(RATE_LIMITER_DIR, "dist", "server", "main.js");
/** Screenshots and other leftovers of a run (git-ignored through the root's `artifacts/`). */
export const ARTIFACTS_DIR = join(E2E_DIR, "artifacts");
/** Debian's Chromium, as installed by scripts/ensure-chromium.sh. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/lib/chromium/chromium";
