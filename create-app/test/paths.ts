/** Where things are, from the tests' point of view. */
import { join } from "node:path";

export const PACKAGE_DIR = join(import.meta.dirname, "..");
export const REPO_ROOT = join(PACKAGE_DIR, "..");
export const TEMPLATES_DIR = join(REPO_ROOT, "templates");
