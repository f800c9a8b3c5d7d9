/**
 * Where the assembled package keeps what it generates apps from (written by
 * `scripts/assemble.ts` at build time, shipped in the tarball):
 *
 *   assets/templates.json          the templates, each with its one-line description
 *   assets/templates/<name>/       a template, already made standalone
 *   assets/runtime/                the runtime, vendored into each app as `vendor/troupe`
 *
 * Dotfiles are stored as `__dot__<name>`: npm and pnpm leave `.gitignore` (and npm `.npmrc`)
 * out of a packed tarball, so an app made from the published package would lack them.
 */
import { fileURLToPath } from "node:url";

export const PACKAGE_ROOT = fileURLToPath(new URL("..", import.meta.url));
export const ASSETS_DIR = fileURLToPath(new URL("../assets", import.meta.url));
export const TEMPLATES_DIR = fileURLToPath(new URL("../assets/templates", import.meta.url));
export const RUNTIME_DIR = fileURLToPath(new URL("../assets/runtime", import.meta.url));
export const MANIFEST = fileURLToPath(new URL("../assets/templates.json", import.meta.url));

/** Prefix of dotfiles in assets/ (see above). */
export const DOT_PREFIX = "__dot__";
/** Where the runtime goes inside a generated app, and its dependency specifier. */
export const VENDOR_PATH = "vendor/troupe";
export const RUNTIME_SPECIFIER = `file:./${VENDOR_PATH}`;

/** Where the README of an assembled template takes its package manager's commands (generate.ts). */
export const START_COMMANDS = "{{START_COMMANDS}}";
export const SCRIPTS_NOTE = "{{SCRIPTS_NOTE}}";
