/** The templates this package was assembled with (assets/templates.json), nothing hard-coded. */
import { existsSync, readFileSync } from "node:fs";
import { MANIFEST } from "./paths.js";

export interface TemplateInfo {
  /** Folder name in the repo's `templates/`, and the `--template` value. */
  name: string;
  /** One line, from the template's package.json `description`. */
  description: string;
  /** The template has a `build` script (frontend and server JavaScript for `start`). */
  hasBuild: boolean;
}

export function listTemplates(): TemplateInfo[] {
  if (!existsSync(MANIFEST)) {
    throw new Error(
      "This copy of create-troupe has no templates: it was not built. In the repo, run `pnpm --filter create-troupe build` first.",
    );
  }
  return JSON.parse(readFileSync(MANIFEST, "utf8")) as TemplateInfo[];
}
