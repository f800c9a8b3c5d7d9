/** Where things are, from the e2e package's point of view. */
import { join } from "node:path";

export const REPO_ROOT = join(import.meta.dirname, "..", "..");
export const E2E_DIR = join(REPO_ROOT, "e2e");
export const CHAT_DIR = join(REPO_ROOT, "templates", "chat");
/** What the chat's `build` script produces and its `start` script serves. */
export const CHAT_DIST = join(CHAT_DIR, "dist");
/** Screenshots and other leftovers of a run (git-ignored through the root's `artifacts/`). */
export const ARTIFACTS_DIR = join(E2E_DIR, "artifacts");
/** Debian's Chromium, as installed by scripts/ensure-chromium.sh. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/lib/chromium/chromium";
