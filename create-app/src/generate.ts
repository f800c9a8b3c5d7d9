/**
 * Writes an app from an assembled template: the template's files, the runtime in
 * `vendor/troupe`, the app's name in package.json and README, a development database of its
 * own (see `nameDevDatabase`), and a `railway.json` whose build and start commands use the
 * package manager the app is installed with.
 *
 * @example
 * await generateApp({ dir: "/tmp/my-app", name: "my-app", template: "chat", pm: "npm" });
 */
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  DOT_PREFIX,
  RUNTIME_DIR,
  SCRIPTS_NOTE,
  START_COMMANDS,
  TEMPLATES_DIR,
  VENDOR_PATH,
} from "./paths.js";
import type { PackageManager } from "./pm.js";
import { listTemplates, type TemplateInfo } from "./templates.js";

export interface GenerateOptions {
  /** Absolute path of the app's folder (created if missing). */
  dir: string;
  /** The app's package name (validated by the caller). */
  name: string;
  template: string;
  pm: PackageManager;
}

/** Files in the folder, for the "not empty" check (a fresh `git init` folder counts as empty). */
export function folderContents(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f !== ".git");
}

export function generateApp(opts: GenerateOptions): TemplateInfo {
  const info = listTemplates().find((t) => t.name === opts.template);
  if (!info) throw new Error(`No template named "${opts.template}".`);
  cpSync(join(TEMPLATES_DIR, info.name), opts.dir, { recursive: true });
  cpSync(RUNTIME_DIR, join(opts.dir, VENDOR_PATH), { recursive: true });
  restoreDotfiles(opts.dir);

  const { commands, scriptsNote } = readmeCommands(opts.pm);
  for (const file of ["package.json", "README.md"]) {
    const path = join(opts.dir, file);
    if (existsSync(path)) {
      writeFileSync(
        path,
        readFileSync(path, "utf8")
          .replaceAll("{{APP_NAME}}", opts.name)
          .replace(START_COMMANDS, commands)
          .replace(SCRIPTS_NOTE, scriptsNote),
      );
    }
  }
  nameDevDatabase(opts.dir, opts.name);
  if (opts.pm === "yarn") pinForYarn(opts.dir);
  writeRailwayConfig(opts.dir, opts.pm, info);
  return info;
}

/**
 * The README's opening commands and its note on scripts, in the package manager the app is made
 * with: an app installed with pnpm or yarn has that manager's lockfile, so it opens with that
 * manager's commands (an `npm install` next to pnpm-lock.yaml would make a second lockfile).
 */
export function readmeCommands(pm: PackageManager): { commands: string; scriptsNote: string } {
  const start = {
    npm: "npm install && npm run dev",
    pnpm: "pnpm install && pnpm dev",
    yarn: "yarn && yarn dev",
  }[pm];
  const lock = { npm: "package-lock.json", pnpm: "pnpm-lock.yaml", yarn: "yarn.lock" }[pm];
  const commands = [
    "```sh",
    `${start.padEnd(29)}# install, then start with hot reload (prints the URL)`,
    `${`${pm} test`.padEnd(29)}# run the tests`,
    "```",
    "",
    pm === "npm"
      ? "The same with pnpm: `pnpm install && pnpm dev`, then `pnpm test`."
      : `Installed with ${pm}: keep to it (its lockfile is \`${lock}\`).`,
  ].join("\n");
  const scriptsNote =
    pm === "pnpm"
      ? ""
      : ` Wherever the README below says \`pnpm <script>\`,\n${pm === "npm" ? "npm users write `npm run <script>`" : "write `yarn <script>`"}.`;
  return { commands, scriptsNote };
}

/**
 * The embedded Postgres that `dev` starts keeps its data under /var/tmp/troupe-pg/<name>, named
 * by `embeddedName` in the template's `src/main.ts` ("chat-template"). Kept, every app made from
 * a template would share that database with the others and with the repo's own `dev`, while
 * each keeps its actors' state in its own `.troupe/data`: a new app would open on someone
 * else's accounts and rows. So each app gets a name of its own, its package name and a random
 * suffix (two apps of the same name in different folders stay apart), written into main.ts
 * and wherever the README names the folder.
 */
export function nameDevDatabase(dir: string, appName: string): string | undefined {
  const main = join(dir, "src", "main.ts");
  if (!existsSync(main)) return undefined;
  const code = readFileSync(main, "utf8");
  const found = [...code.matchAll(/embeddedName: "([A-Za-z0-9._-]+)"/g)];
  if (found.length === 0) return undefined; // a template without a database
  if (found.length > 1) {
    throw new Error(`${main} names more than one embedded database; expected one embeddedName.`);
  }
  const [match, old] = found[0]!;
  const base = appName
    .replace(/^@/, "")
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[.-]+/, "")
    .slice(0, 40);
  const name = `${base || "app"}-${randomBytes(3).toString("hex")}`;
  writeFileSync(main, code.replace(match, `embeddedName: "${name}"`));
  const readme = join(dir, "README.md");
  if (existsSync(readme)) {
    const text = readFileSync(readme, "utf8");
    writeFileSync(readme, text.replaceAll(`troupe-pg/${old}`, `troupe-pg/${name}`));
  }
  return name;
}

/**
 * Vite 8.4.0 lists an optional dependency (`napi-windows-process-start-time`) that the npm
 * registry does not have. npm and pnpm leave a missing optional dependency out; yarn 1 stops
 * the whole install ("Couldn't find package"), also with `--ignore-optional`. So an app
 * installed with yarn keeps Vite on 8.3, for every package that asks for it (`resolutions`,
 * which yarn applies to nested dependencies too). Only where the app asks for Vite 8.
 */
export const YARN_VITE = "~8.3.8";

function pinForYarn(dir: string): void {
  const path = join(dir, "package.json");
  const pkg = JSON.parse(readFileSync(path, "utf8"));
  const range: string | undefined = pkg.devDependencies?.vite ?? pkg.dependencies?.vite;
  if (!range?.startsWith("^8.")) return;
  for (const field of ["dependencies", "devDependencies"]) {
    if (pkg[field]?.vite) pkg[field].vite = YARN_VITE;
  }
  pkg.resolutions = { ...pkg.resolutions, "**/vite": YARN_VITE };
  writeFileSync(path, `${JSON.stringify(pkg, null, 2)}\n`);
}

/** Renames `__dot__x` back to `.x`, everywhere below `dir` (see paths.ts). */
function restoreDotfiles(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    let name = entry.name;
    if (name.startsWith(DOT_PREFIX)) {
      const dotted = `.${name.slice(DOT_PREFIX.length)}`;
      renameSync(join(dir, name), join(dir, dotted));
      name = dotted;
    }
    if (entry.isDirectory() && name !== "node_modules") restoreDotfiles(join(dir, name));
  }
}

/** Railway's build and start commands for an app installed with `pm`. */
export function railwayCommands(
  pm: PackageManager,
  hasBuild: boolean,
  startScript?: string,
): { buildCommand: string; startCommand: string } {
  // Railway builds with NODE_ENV=production: the install must still bring the dev
  // dependencies, which the build needs (Vite, the compilers). npm: `install`, which follows
  // the lockfile, rather than `ci`, which refuses a lockfile without an optional dependency
  // the registry does not have (Vite 8.4 names one, napi-windows-process-start-time).
  const install = {
    npm: "npm install --include=dev",
    pnpm: "pnpm install --frozen-lockfile --prod=false",
    yarn: "yarn install --frozen-lockfile --production=false",
  }[pm];
  const run = pm === "npm" ? "npm run" : pm;
  return {
    buildCommand: hasBuild ? `${install} && ${run} build` : install,
    // `exec`: the platform's SIGTERM goes to the process its shell started. A shell that runs
    // the package manager as its child (dash does) would die of it and leave the server running
    // until SIGKILL, undrained. The package manager forwards it to the `start` script, which
    // `exec`s node in turn (see scripts/assemble.ts).
    // Yarn 1 is left out: on SIGTERM it passes the signal on and exits at once with code 1,
    // without waiting for the server's drain, which would end the container in the middle of
    // it. Its start command is the `start` script itself, an `exec` of node already.
    startCommand: pm === "yarn" && startScript ? startScript : `exec ${pm} start`,
  };
}

/** Default `drainingSeconds`: above troupe/server's default 8 s grace. */
export const DRAINING_SECONDS = 10;

function writeRailwayConfig(dir: string, pm: PackageManager, info: TemplateInfo): void {
  const path = join(dir, "railway.json");
  const config = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : {};
  const startScript = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).scripts?.start;
  const { buildCommand, startCommand } = railwayCommands(pm, info.hasBuild, startScript);
  config.$schema ??= "https://railway.com/railway.schema.json";
  config.build = { ...config.build, buildCommand };
  config.deploy = {
    healthcheckPath: "/api/health",
    ...config.deploy,
    startCommand,
    // Time between Railway's SIGTERM and its SIGKILL: the drain (troupe/server's stopOnSignals)
    // gives up a little before it.
    drainingSeconds: config.deploy?.drainingSeconds ?? DRAINING_SECONDS,
    // One replica: actors are placed in one process (see README).
    numReplicas: 1,
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
}
