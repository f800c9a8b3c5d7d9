/** The package manager an app is installed with: the one create-troupe was run with, or --pm. */
import { spawn } from "node:child_process";

export const PACKAGE_MANAGERS = ["npm", "pnpm", "yarn"] as const;
export type PackageManager = (typeof PACKAGE_MANAGERS)[number];

/**
 * From `npm_config_user_agent`, which npm, pnpm and yarn set for what they run
 * (`pnpm/12.21.0 npm/? node/v20.20.2 linux x64`); npm when it is missing (a plain `node`).
 */
export function detectPackageManager(
  userAgent = process.env.npm_config_user_agent,
): PackageManager {
  const name = userAgent?.split("/")[0];
  return PACKAGE_MANAGERS.find((pm) => pm === name) ?? "npm";
}

export function isPackageManager(value: string): value is PackageManager {
  return (PACKAGE_MANAGERS as readonly string[]).includes(value);
}

/** `npm run dev`, `pnpm dev`, `yarn dev`; `npm test` for the scripts npm runs without `run`. */
export function runCommand(pm: PackageManager, script: string): string {
  if (pm === "npm" && !["test", "start"].includes(script)) return `npm run ${script}`;
  return `${pm} ${script}`;
}

/**
 * Runs `<pm> install` in `dir` with its output captured (shown only if it fails). Resolves
 * with the output; rejects with an error carrying it.
 */
export function install(pm: PackageManager, dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // What the running script's package manager set about that run (its package, its script,
    // its cwd) is not passed on: the app's install is a run of its own. Settings such as
    // npm_config_registry or npm_config_cache are.
    const env = { ...process.env };
    for (const name of Object.keys(env)) {
      if (
        /^(npm_lifecycle_|npm_package_|npm_config_user_agent$|npm_execpath$|npm_node_execpath$|INIT_CWD$|PNPM_SCRIPT_SRC_DIR$)/.test(
          name,
        )
      ) {
        delete env[name];
      }
    }
    const child = spawn(pm, ["install"], {
      cwd: dir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      shell: process.platform === "win32",
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d));
    child.stderr.on("data", (d: Buffer) => (output += d));
    child.once("error", (err) =>
      reject(new Error(`could not run ${pm}: ${err.message}`, { cause: output })),
    );
    child.once("exit", (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${pm} install exited with code ${code}`, { cause: output }));
    });
  });
}
