/**
 * Writes an app from an assembled template: the template's files, the runtime in
 * `vendor/troupe`, the app's name in package.json and README, and a `railway.json` whose build
 * and start commands use the package manager the app is installed with.
 *
 * @example
 * await generateApp({ dir: "/tmp/my-app", name: "my-app", template: "chat", pm: "npm" });
 */
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DOT_PREFIX, RUNTIME_DIR, TEMPLATES_DIR, VENDOR_PATH } from "./paths.js";
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

  for (const file of ["package.json", "README.md"]) {
    const path = join(opts.dir, file);
    if (existsSync(path)) {
      writeFileSync(path, readFileSync(path, "utf8").replaceAll("{{APP_NAME}}", opts.name));
    }
  }
  if (opts.pm === "yarn") pinForYarn(opts.dir);
  writeRailwayConfig(opts.dir, opts.pm, info);
  return info;
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
