/**
 * Running the packed CLI and the apps it generates as a person (or a platform) would: child
 * processes in folders outside the repo, with an environment cleaned of what the test runner
 * and the repo's own package manager run put there, output captured and shown only when a step
 * fails.
 *
 * @example
 * const dir = await scratchDir();
 * await run("npx", ["--yes", tarball, "my-app", "--template", "chat"], { cwd: dir });
 * const app = await startApp("npm start", { cwd: join(dir, "my-app"), env: { PORT: "8080" } });
 * await app.stop("SIGTERM");
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { afterAll, expect } from "vitest";

const scratch: string[] = [];
afterAll(() => Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true }))));

/** A fresh folder under the system's temporary directory (outside the repo), removed after the file. */
export async function scratchDir(prefix = "create-troupe-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/**
 * This process's environment without what vitest and the repo's `pnpm test` add (their
 * variables would tell npm it runs inside the repo's script, tell Vite it runs under a test,
 * and point INIT_CWD at the repo), plus `extra`.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (
      /^(VITEST|TEST$|NODE_ENV$|INIT_CWD$|PNPM_|npm_|DATABASE_URL$|TROUPE_|AUTH_SECRET$|PORT$)/.test(
        name,
      )
    ) {
      continue;
    }
    env[name] = value;
  }
  // Installs reuse npm's cache when it has a package (the registry is still asked otherwise).
  env.npm_config_prefer_offline = "true";
  env.npm_config_fund = "false";
  env.npm_config_audit = "false";
  return { ...env, ...extra };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; with `check` (default) a non-zero exit throws with its output. */
export function run(
  command: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; check?: boolean; input?: string },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? cleanEnv(),
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d));
    child.stderr!.on("data", (d: Buffer) => (stderr += d));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    child.once("error", reject);
    child.once("exit", (code) => {
      const result = { code, stdout, stderr };
      if ((opts.check ?? true) && code !== 0) {
        reject(
          new Error(
            `${command} ${args.join(" ")} (in ${opts.cwd}) exited with ${code}:\n${tail(stdout)}\n${tail(stderr)}`,
          ),
        );
      } else resolve(result);
    });
  });
}

function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
}

export interface RunningApp {
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the exit code (or the signal) once the process has exited. */
  exited: Promise<string>;
  /** Sends `signal` to the command's own process only, as a platform signals its container's main process. */
  signal(signal: NodeJS.Signals): void;
  /** Stops the whole process group (SIGKILL after `graceMs`) and waits for the exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<string>;
}

const groups = new Set<number>();
process.once("exit", () => {
  for (const group of groups) {
    try {
      process.kill(-group, "SIGKILL");
    } catch {}
  }
});

/** Starts `command` through `sh -c` (as a package manager or a platform runs a command line). */
export function startApp(
  command: string,
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): RunningApp {
  const child: ChildProcess = spawn("sh", ["-c", command], {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid!;
  groups.add(pid);
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d));
  child.stderr!.on("data", (d: Buffer) => (output += d));
  const exited = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => {
      groups.delete(pid);
      resolve(signal ?? String(code));
    }),
  );
  let done = false;
  void exited.then(() => (done = true));
  return {
    output: () => output,
    exited,
    signal: (signal) => {
      if (!done) process.kill(pid, signal);
    },
    async stop(signal = "SIGTERM", graceMs = 15_000) {
      if (done) return exited;
      try {
        process.kill(-pid, signal);
      } catch {}
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {}
      }, graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Waits until `GET url` answers 200, failing at once if the app exits first. */
export async function waitForHealth(
  app: RunningApp,
  url: string,
  timeoutMs = 60_000,
): Promise<Response> {
  let exit: string | undefined;
  void app.exited.then((code) => (exit = code));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exit !== undefined) {
      throw new Error(
        `The app exited (${exit}) before ${url} answered. Its output:\n${app.output()}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (res.status === 200) return res;
    } catch {}
    if (Date.now() > deadline) {
      throw new Error(`${url} did not answer 200 within ${timeoutMs} ms. Output:\n${app.output()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every file of the app outside node_modules, dist and .troupe, relative to it. */
export function appFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (["node_modules", "dist", ".troupe"].includes(entry.name)) return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? appFiles(path, base) : [relative(base, path)];
  });
}

/**
 * Checks every package.json of the app (its own and the vendored runtime's): no `workspace:`
 * specifier, every dependency a registry range or a path inside the app (no absolute path, no
 * `../`), the runtime vendored. Returns the app's own package.json.
 */
export function expectStandalonePackages(app: string): Record<string, any> {
  const files = appFiles(app).filter((f) => basename(f) === "package.json");
  expect(files).toEqual(expect.arrayContaining(["package.json", "vendor/troupe/package.json"]));
  for (const file of files) {
    const text = readFileSync(join(app, file), "utf8");
    expect([file, text]).not.toContainEqual(expect.stringContaining("workspace:"));
    const pkg = JSON.parse(text);
    for (const field of ["dependencies", "devDependencies", "peerDependencies"]) {
      for (const [dep, spec] of Object.entries((pkg[field] ?? {}) as Record<string, string>)) {
        expect([file, dep, spec]).not.toEqual([
          file,
          dep,
          // A home (`~/`), drive or absolute path; `~8.3.8` is a registry range.
          expect.stringMatching(/^(\/|~\/|[A-Za-z]:)|\.\.\//),
        ]);
      }
    }
  }
  const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8"));
  expect(pkg.dependencies.troupe).toBe("file:./vendor/troupe");
  return pkg;
}

/**
 * A copy of the app as a clean checkout has it (what git would have, the lockfile included;
 * nothing installed, built or stored locally), in a fresh folder under the same name.
 */
export async function cleanCopy(app: string): Promise<string> {
  const copy = join(await scratchDir("create-troupe-deploy-"), basename(app));
  cpSync(app, copy, {
    recursive: true,
    filter: (src) => !/[/\\](node_modules|dist|\.troupe)$/.test(src),
  });
  expect(existsSync(join(copy, "node_modules"))).toBe(false);
  return copy;
}

/**
 * As the platform does: SIGTERM to the start command's process only, which must reach the
 * server through the package manager and make it drain and exit 0 within `drainingSeconds`.
 */
export async function expectDrainOnSigterm(app: RunningApp, drainingSeconds: number) {
  app.signal("SIGTERM");
  const code = await Promise.race([
    app.exited,
    new Promise<string>((r) =>
      setTimeout(() => r(`still running after ${drainingSeconds} s`), drainingSeconds * 1000),
    ),
  ]);
  expect([code, app.output()]).toEqual(["0", expect.any(String)]);
}
