/**
 * The build step of create-troupe (`pnpm --filter create-troupe build`, also run by `prepack`):
 * assembles `assets/` from the repo's `runtime/` and `templates/*`, so that the templates in the
 * repo stay the only source and the package cannot drift from them. Nothing here is a hand copy:
 * every file comes from the repo, and what makes a template standalone is a rewrite applied to
 * every template alike:
 *
 * - package.json: `troupe: workspace:*` becomes `file:./vendor/troupe` (any other `workspace:`
 *   specifier fails the build: the app could not install it); what the template lists under
 *   `monorepoOnly` (files, devDependencies, scripts) is left out of the app;
 * - tsconfig.json: the repo's shared compiler options (the templates have none of their own);
 * - README.md: opens with the app's two commands; `pnpm --filter <template> x` becomes
 *   `pnpm x`; links that leave the template become plain text; passages between
 *   `<!-- monorepo-only -->` and `<!-- /monorepo-only -->` are dropped;
 * - .gitignore (the repo's), .env.example (the template's own, or one listing the variables its
 *   code reads), pnpm-workspace.yaml (the repo's `allowBuilds`, which pnpm needs to run the
 *   install scripts of esbuild and the embedded Postgres);
 * - the runtime: its source without tests, its README and protocol, and a package.json with its
 *   exports and runtime dependencies only.
 *
 * Files are the ones git knows or would add (`git ls-files --cached --others
 * --exclude-standard`), so build output, node_modules and local data never travel.
 */
import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DOT_PREFIX,
  RUNTIME_SPECIFIER,
  SCRIPTS_NOTE,
  START_COMMANDS,
  VENDOR_PATH,
} from "../src/paths.js";
import type { TemplateInfo } from "../src/templates.js";

const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
const REPO = join(PACKAGE_DIR, "..");
const ASSETS = join(PACKAGE_DIR, "assets");

type Json = Record<string, any>;

const readJson = (path: string): Json => JSON.parse(readFileSync(path, "utf8"));
const writeJson = (path: string, value: unknown) =>
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);

/** Files under `dir` that git tracks or would add, relative to `dir`. */
function sourceFiles(dir: string): string[] {
  const out = execFileSync(
    "git",
    ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    {
      cwd: dir,
      encoding: "utf8",
    },
  );
  return out
    .split("\0")
    .filter(Boolean)
    .filter((file) => existsSync(join(dir, file)));
}

/** Copies `files` from `from` to `to`, storing dotfiles under DOT_PREFIX (see src/paths.ts). */
function copyFiles(from: string, to: string, files: string[]): void {
  for (const file of files) {
    const name = basename(file);
    const target = join(
      to,
      dirname(file),
      name.startsWith(".") ? DOT_PREFIX + name.slice(1) : name,
    );
    mkdirSync(dirname(target), { recursive: true });
    cpSync(join(from, file), target);
  }
}

const isTest = (file: string) => /\.test\.tsx?$/.test(file);

function assembleRuntime(): Json {
  const from = join(REPO, "runtime");
  const to = join(ASSETS, "runtime");
  const pkg = readJson(join(from, "package.json"));
  const files = sourceFiles(from).filter(
    (f) => (f.startsWith("src/") && !isTest(f)) || f === "README.md" || f === "PROTOCOL.md",
  );
  copyFiles(from, to, files);
  writeFileSync(join(to, "README.md"), withoutRepo(readFileSync(join(from, "README.md"), "utf8")));
  // What an app needs to install and import it: no scripts (they run the repo's examples and
  // benchmarks, which are not vendored) and no devDependencies.
  writeJson(join(to, "package.json"), {
    name: pkg.name,
    version: pkg.version,
    private: true,
    description: pkg.description,
    type: pkg.type,
    license: pkg.license,
    exports: pkg.exports,
    dependencies: pkg.dependencies,
    peerDependencies: pkg.peerDependencies,
    peerDependenciesMeta: pkg.peerDependenciesMeta,
  });
  for (const file of Object.values(pkg.exports as Record<string, string>)) {
    if (!existsSync(join(to, file))) throw new Error(`runtime export ${file} was not vendored`);
  }
  return pkg;
}

/** The repo's shared compiler options, for an app that has no repo above it. */
function standaloneTsconfig(templateDir: string): Json {
  const base = readJson(join(REPO, "tsconfig.base.json"));
  const own = existsSync(join(templateDir, "tsconfig.json"))
    ? readJson(join(templateDir, "tsconfig.json"))
    : {};
  const { extends: _extends, ...rest } = own;
  const include = rest.include ?? [
    "src",
    "test",
    "bench",
    ...readdirSync(templateDir).filter((f) => /\.config\.ts$/.test(f)),
  ];
  return {
    ...rest,
    compilerOptions: { ...base.compilerOptions, noEmit: true, ...rest.compilerOptions },
    include: include.filter((entry: string) => existsSync(join(templateDir, entry))),
  };
}

/** Environment variables the template's own code reads (for a generated .env.example). */
function envVariables(templateDir: string, files: string[]): string[] {
  const names = new Set<string>();
  for (const file of files) {
    if (!file.startsWith("src/") || isTest(file) || !/\.tsx?$/.test(file)) continue;
    const source = readFileSync(join(templateDir, file), "utf8");
    for (const m of source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)) names.add(m[1]!);
    // The runtime's resolveAuthSecret reads it on the template's behalf.
    if (source.includes('"troupe/secret"')) names.add("AUTH_SECRET");
    // troupe/server's startApp reads these for the template's main.ts.
    if (source.includes("startApp("))
      for (const n of ["DATABASE_URL", "PORT", "HOST"]) names.add(n);
  }
  for (const internal of ["NODE_ENV"]) names.delete(internal);
  return [...names].filter((n) => !/^TROUPE_.*_BUILT$|_DEV_WATCH$/.test(n)).sort();
}

const ENV_NOTES: Record<string, string> = {
  DATABASE_URL:
    "Postgres for the app's data (and, in production, its actors' state). Unset in development: an embedded Postgres is started. Required by `start`.",
  AUTH_SECRET:
    "Signs the tokens: 32+ random characters (`openssl rand -hex 32`), the same across deploys. Unset in development: one is generated into .troupe/. Required by `start`.",
  PORT: "Where the server listens (default 3000; Railway sets it).",
  HOST: "Interface to listen on in development (default localhost).",
  TRUST_PROXY: "1 behind a proxy that sets X-Forwarded-For (Railway).",
};

function envExample(names: string[]): string {
  const lines = [
    "# Environment of this app. Copy to .env or set these in your platform (Railway: Variables).",
    "# In development every one of them is optional.",
  ];
  for (const name of names) {
    lines.push("", `# ${ENV_NOTES[name] ?? "See README.md."}`, `# ${name}=`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * A README as it reads outside the repo: passages marked monorepo-only left out, links that
 * leave its folder made plain text (they point into the repo, which the app does not have).
 */
function withoutRepo(readme: string): string {
  return readme
    .replace(/<!-- monorepo-only -->[\s\S]*?<!-- \/monorepo-only -->\n?/g, "")
    .replace(/\[([^\]]+)\]\((?:\.\.\/)+[^)]*\)/g, "$1");
}

/** The README of a generated app: its two commands first, then the template's own README. */
function standaloneReadme(readme: string, pkgName: string, info: TemplateInfo): string {
  const body = withoutRepo(readme).replaceAll(`pnpm --filter ${pkgName} `, "pnpm ");
  const intro = [
    "# {{APP_NAME}}",
    "",
    // The commands of the package manager the app is made with (see readmeCommands).
    `${START_COMMANDS} Both need Node 20.19+ and`,
    "nothing else: without `DATABASE_URL` an embedded PostgreSQL is started for you.",
    "",
    `Made with \`create-troupe\` from the Troupe **${info.name}** template. The actor runtime is`,
    `vendored in \`${VENDOR_PATH}\` (package \`troupe\`, with its README and wire protocol), so the`,
    `app depends on nothing but packages from npm.${SCRIPTS_NOTE}`,
    "",
    "Deploy to Railway: create a project with a PostgreSQL service and a service from this app's",
    "repository; `railway.json` holds the build and start commands, one replica and the health",
    "check. Set `DATABASE_URL` (a reference to the Postgres service's) and the other variables",
    "of `.env.example` that `start` requires.",
    "",
  ].join("\n");
  return `${intro}\n${body.replace(/^# /, "## ")}`;
}

/**
 * A `start` script whose shell hands over to the server (`exec`), so that SIGTERM reaches it:
 * npm and pnpm forward the platform's SIGTERM to the script's shell, and dash (Debian's `sh`)
 * neither execs the last command nor passes the signal on. `A=b cmd args` becomes
 * `exec env A=b cmd args`. Templates should say `exec` themselves (the chat does); this covers
 * a simple command that does not, and a compound one fails the build.
 */
function signalTransparent(script: string, template: string): string {
  if (/^exec\s/.test(script)) return script;
  if (/[;&|`$()<>]/.test(script)) {
    throw new Error(
      `templates/${template}'s start script (${script}) is not one simple command: make it end with \`exec <server>\` so that SIGTERM reaches the server.`,
    );
  }
  const assignments = script.match(/^(\s*[A-Za-z_][A-Za-z0-9_]*=\S*)+/)?.[0] ?? "";
  return assignments ? `exec env ${script.trim()}` : `exec ${script.trim()}`;
}

/**
 * What the app's `typecheck` (`tsc`) needs that the repo's root holds for every package:
 * TypeScript and Node's types (the root's versions), and the type packages of the vendored
 * runtime's own dependencies (`@types/ws` for `ws`), which the runtime keeps as devDependencies.
 */
function typecheckDependencies(runtimePkg: Json): Record<string, string> {
  const root = readJson(join(REPO, "package.json")).devDependencies as Record<string, string>;
  const runtimeDev = (runtimePkg.devDependencies ?? {}) as Record<string, string>;
  const deps: Record<string, string> = {
    typescript: root.typescript!,
    "@types/node": root["@types/node"]!,
  };
  for (const dep of Object.keys(runtimePkg.dependencies ?? {})) {
    const types = `@types/${dep}`;
    if (runtimeDev[types]) deps[types] = runtimeDev[types];
  }
  return deps;
}

const WORKSPACE_YAML = readFileSync(join(REPO, "pnpm-workspace.yaml"), "utf8");

/** The repo's `allowBuilds:` block of pnpm-workspace.yaml. */
function allowBuildsBlock(): string {
  const block = WORKSPACE_YAML.match(/^allowBuilds:\n(?:[ \t]+.*\n)+/m);
  if (!block) throw new Error("pnpm-workspace.yaml has no allowBuilds block");
  return block[0];
}

/**
 * The same packages for npm, whose `allowScripts` (package.json, npm 11.16+) is advisory in
 * npm 11 and blocks every other dependency's install script from npm 12 on.
 */
function allowScripts(): Record<string, boolean> {
  const entries = [...allowBuildsBlock().matchAll(/^[ \t]+"?([^":\s]+)"?:\s*(true|false)/gm)];
  return Object.fromEntries(entries.map((m) => [m[1]!, m[2] === "true"]));
}

function allowBuildsYaml(): string {
  const block = allowBuildsBlock();
  const permissions = WORKSPACE_YAML.match(/^permissions:\n(?:[ \t]+.*\n)+/m)?.[0];
  return [
    "# pnpm 12 runs the install scripts of dependencies listed here only (esbuild, and the",
    "# embedded PostgreSQL used in development and tests). npm ignores this file: it reads",
    "# `allowScripts` in package.json.",
    block,
    ...(permissions
      ? [
          "# Agent skills that dependencies ship (Phaser's), declined: pnpm would otherwise ask",
          "# after every install whether to link them for AI coding agents.",
          permissions,
        ]
      : []),
  ].join("\n");
}

/**
 * What a template keeps to the repo (`monorepoOnly` in its package.json, removed here): files
 * or folders, devDependencies and scripts that an app does not get, such as a benchmark against
 * another framework whose dependencies an app should not have to install.
 */
function takeMonorepoOnly(pkg: Json): { files: string[] } {
  const only = (pkg.monorepoOnly ?? {}) as {
    files?: string[];
    devDependencies?: string[];
    scripts?: string[];
  };
  delete pkg.monorepoOnly;
  for (const dep of only.devDependencies ?? []) {
    if (!pkg.devDependencies?.[dep]) throw new Error(`monorepoOnly: no devDependency ${dep}`);
    delete pkg.devDependencies[dep];
  }
  for (const script of only.scripts ?? []) {
    if (!pkg.scripts?.[script]) throw new Error(`monorepoOnly: no script ${script}`);
    delete pkg.scripts[script];
  }
  return { files: (only.files ?? []).map((f) => f.replace(/\/+$/, "")) };
}

function assembleTemplate(name: string, runtimePkg: Json): TemplateInfo {
  const from = join(REPO, "templates", name);
  const to = join(ASSETS, "templates", name);
  const pkg = readJson(join(from, "package.json"));
  const repoOnly = takeMonorepoOnly(pkg);
  const files = sourceFiles(from).filter(
    (f) =>
      !["README.md", "package.json"].includes(f) &&
      !repoOnly.files.some((dir) => f === dir || f.startsWith(`${dir}/`)),
  );
  copyFiles(from, to, files);

  for (const field of [
    "dependencies",
    "devDependencies",
    "peerDependencies",
    "optionalDependencies",
  ]) {
    for (const [dep, spec] of Object.entries((pkg[field] ?? {}) as Record<string, string>)) {
      if (dep === runtimePkg.name) pkg[field][dep] = RUNTIME_SPECIFIER;
      else if (String(spec).startsWith("workspace:")) {
        throw new Error(
          `templates/${name} depends on ${dep} through "${spec}": a generated app could not install it. Ship it inside the runtime (a sub-export of troupe) instead.`,
        );
      }
    }
  }
  const info: TemplateInfo = {
    name,
    description: String(pkg.description ?? "").trim(),
    hasBuild: Boolean(pkg.scripts?.build),
  };
  if (pkg.scripts?.start) pkg.scripts.start = signalTransparent(pkg.scripts.start, name);
  pkg.scripts = { ...pkg.scripts, typecheck: pkg.scripts?.typecheck ?? "tsc -p tsconfig.json" };
  pkg.devDependencies = { ...typecheckDependencies(runtimePkg), ...pkg.devDependencies };
  const templatePkgName = pkg.name as string;
  pkg.name = "{{APP_NAME}}";
  pkg.engines ??= readJson(join(REPO, "package.json")).engines;
  pkg.allowScripts = { ...allowScripts(), ...pkg.allowScripts };
  writeJson(join(to, "package.json"), pkg);

  writeJson(join(to, "tsconfig.json"), standaloneTsconfig(from));
  writeFileSync(join(to, `${DOT_PREFIX}gitignore`), readFileSync(join(REPO, ".gitignore")));
  if (!files.includes(".env.example")) {
    writeFileSync(join(to, `${DOT_PREFIX}env.example`), envExample(envVariables(from, files)));
  }
  writeFileSync(join(to, "pnpm-workspace.yaml"), allowBuildsYaml());
  const readme = existsSync(join(from, "README.md"))
    ? readFileSync(join(from, "README.md"), "utf8")
    : "";
  writeFileSync(join(to, "README.md"), standaloneReadme(readme, templatePkgName, info));
  return info;
}

rmSync(ASSETS, { recursive: true, force: true });
mkdirSync(ASSETS, { recursive: true });
const runtimePkg = assembleRuntime();
const templates = readdirSync(join(REPO, "templates"), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(REPO, "templates", d.name, "package.json")))
  .map((d) => d.name)
  .sort()
  .map((name) => assembleTemplate(name, runtimePkg));
writeJson(join(ASSETS, "templates.json"), templates);
// `--quiet`: the repo's `pnpm create-app` builds first; its user asked for an app, not a build.
if (!process.argv.includes("--quiet")) {
  console.log(
    `create-troupe: assembled the runtime and ${templates.map((t) => t.name).join(", ")}`,
  );
}
