// Every template's README as a generated app gets it (from the packed tarball, `--no-install`):
// what it tells the reader to run exists in that app. Every `pnpm <script>` and `npm run
// <script>` is a script of its package.json, and nothing points into the repo it came from
// (the e2e project, `templates/…` paths, the root's scripts, a `cd` into the template's folder).
import { copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { run, scratchDir } from "./helpers.js";
import { REPO_ROOT } from "./paths.js";

const TEMPLATES = readdirSync(join(REPO_ROOT, "templates"))
  .filter((name) => existsSync(join(REPO_ROOT, "templates", name, "package.json")))
  .sort();

/** pnpm's own commands, which a README may name after `pnpm` without being scripts. */
const PNPM_COMMANDS = new Set(["install", "add", "exec", "dlx", "run"]);

/** The code of a README: its fenced blocks and its inline code spans. */
function codeOf(readme: string): string {
  const blocks = [...readme.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]);
  const prose = readme.replace(/^```[^\n]*\n[\s\S]*?^```/gm, "");
  const spans = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
  return [...blocks, ...spans].join("\n");
}

/** The scripts a README's code names: `pnpm <script>`, `pnpm run <script>`, `npm run <script>`. */
function namedScripts(readme: string): string[] {
  const code = codeOf(readme);
  const names = new Set<string>();
  for (const m of code.matchAll(/(?<![\w-])pnpm(?: run)? ([a-z][\w:.-]*)/g)) {
    if (!PNPM_COMMANDS.has(m[1]!)) names.add(m[1]!);
  }
  for (const m of code.matchAll(/(?<![\w-])npm run ([a-z][\w:.-]*)/g)) names.add(m[1]!);
  return [...names].sort();
}

/** Lines of a README that only make sense inside the repo. */
function repoOnlyLines(readme: string): string[] {
  return readme
    .split("\n")
    .filter((line) =>
      [
        /--project e2e/,
        /repo root/i,
        /from the repo/i,
        /\be2e\//,
        /(?<![\w/])templates\//,
        /cd templates\b/,
        /--filter/,
        /monorepo-only/,
      ].some((pattern) => pattern.test(line)),
    );
}

describe("the reading of the helpers", () => {
  it("finds the scripts a README names, and the lines that point into the repo", () => {
    const readme = [
      "Run it with pnpm or npm: `pnpm start`.",
      "```sh",
      "pnpm install && pnpm dev",
      "pnpm bench:rate-limiter # from the repo root",
      "npm run db:generate",
      "pnpm exec vitest run --project e2e e2e/x.test.ts",
      "cd templates/rate-limiter",
      "```",
    ].join("\n");
    expect(namedScripts(readme)).toEqual(["bench:rate-limiter", "db:generate", "dev", "start"]);
    expect(repoOnlyLines(readme)).toEqual([
      "pnpm bench:rate-limiter # from the repo root",
      "pnpm exec vitest run --project e2e e2e/x.test.ts",
      "cd templates/rate-limiter",
    ]);
  });
});

describe.each(TEMPLATES)("the README of an app made from the %s template", (template) => {
  let readme: string;
  let scripts: Record<string, string>;

  beforeAll(async () => {
    const work = await scratchDir();
    const tarball = basename(inject("tarball"));
    copyFileSync(inject("tarball"), join(work, tarball));
    const name = `readme-${template}`;
    await run(
      "npx",
      ["--yes", `./${tarball}`, name, "--template", template, "--no-install", "--no-git"],
      { cwd: work },
    );
    readme = readFileSync(join(work, name, "README.md"), "utf8");
    scripts = JSON.parse(readFileSync(join(work, name, "package.json"), "utf8")).scripts;
  });

  it("names only scripts the app's package.json has", () => {
    const missing = namedScripts(readme).filter((script) => !(script in scripts));
    expect(missing, `scripts the README names that the app lacks`).toEqual([]);
  });

  it("has nothing that exists only in the repo", () => {
    // As one string, so that a failure shows the lines themselves.
    expect(repoOnlyLines(readme).join("\n")).toBe("");
  });
});
