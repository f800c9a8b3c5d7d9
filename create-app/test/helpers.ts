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
import { cpSync, existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, relative, sep } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { EMBEDDED_ROOT } from "troupe/db";
import { freePort, waitFor } from "troupe/test";
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
  /** Ctrl-C as a terminal sends it: SIGINT to the whole process group; resolves with the exit. */
  interrupt(): Promise<string>;
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

/**
 * Starts `command` through `sh -c` (as a package manager or a platform runs a command line), or
 * through `shell`: `bash` for a line a person types in a terminal, whose shell waits for the
 * foreground command after a Ctrl-C (`sh`, Debian's dash, would exit at once and leave it running).
 */
export function startApp(
  command: string,
  opts: { cwd: string; env: NodeJS.ProcessEnv; shell?: "sh" | "bash" },
): RunningApp {
  const child: ChildProcess = spawn(opts.shell ?? "sh", ["-c", command], {
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
    interrupt() {
      if (!done) process.kill(-pid, "SIGINT");
      return exited;
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

/** The two commands the app's README opens with (its first code block), without their comments. */
export function readmeCommands(app: string): { run: string; test: string } {
  const readme = readFileSync(join(app, "README.md"), "utf8");
  const block = /^```sh\n([\s\S]*?)\n```$/m.exec(readme)?.[1] ?? "";
  const [run, test, ...rest] = block.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim());
  expect([run, test, rest], `the README's first block:\n${block}`).toEqual([
    expect.any(String),
    expect.any(String),
    [],
  ]);
  return { run: run!, test: test! };
}

/**
 * Live processes (zombies are not running) whose working directory is inside one of `paths` or
 * whose command line names one: what an app run there started (npm or pnpm, tsx watch, the
 * server, Vite, a Postgres server with its data directory under one of them).
 */
export function processesUnder(paths: string[]): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (paths.some((p) => cwd === p || cwd.startsWith(p + sep) || command.includes(p))) {
        found.push({ pid: Number(entry), command });
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/**
 * The README's run command as a person types it in a terminal, in the installed app: it starts
 * the development server with the app's own embedded Postgres (its folder under the data root,
 * named in `src/main.ts`), prints its ready line, and /api/health answers 200 with the database
 * up at the URL it printed. Then Ctrl-C: it ends, and nothing it started is left running
 * (the package manager, tsx watch, the server, Vite, Postgres, which shut down cleanly). The
 * development database is removed afterwards.
 */
export async function expectDevRunStopsOnCtrlC(app: string, command: string): Promise<void> {
  const embeddedName = /embeddedName: "([^"]+)"/.exec(
    readFileSync(join(app, "src", "main.ts"), "utf8"),
  )?.[1];
  expect(embeddedName, "src/main.ts names no development database").toBeDefined();
  const dataDir = join(EMBEDDED_ROOT, embeddedName!);
  const port = await freePort();
  const dev = startApp(command, {
    cwd: app,
    env: cleanEnv({ PORT: String(port), TROUPE_PG_ROOT: EMBEDDED_ROOT }),
    shell: "bash",
  });
  try {
    let exit: string | undefined;
    void dev.exited.then((code) => (exit = code));
    const url = await waitFor(
      () => {
        if (exit !== undefined) throw new Error(`${command} exited (${exit}):\n${dev.output()}`);
        return /^\[[\w-]+\] ready on (http:\/\/\S+)/m.exec(dev.output())?.[1];
      },
      { timeout: 240_000, interval: 250, what: `${command}'s ready line` },
    );
    expect(url).toBe(`http://localhost:${port}`);
    const health = await waitForHealth(dev, `${url}/api/health`);
    expect(await health.json()).toMatchObject({ database: "up" });
    expect(processesUnder([dataDir]).map((p) => p.command)).toContainEqual(
      expect.stringMatching(/\/postgres -D /),
    );

    // It ends on the Ctrl-C as a command in a terminal does: 0 (pnpm), or by the SIGINT itself
    // (npm ends itself with the signal its script's shell died of; a terminal shows 130).
    const code = await dev.interrupt();
    expect(["0", "130", "SIGINT"], `exit ${code}; output:\n${dev.output()}`).toContain(code);
    // Gone when the command has returned, not some time later.
    expect(processesUnder([app, dataDir])).toEqual([]);
    // A clean shutdown removes it; a killed server leaves it.
    expect(existsSync(join(dataDir, "pg", "postmaster.pid"))).toBe(false);
    expect(dev.output()).not.toMatch(/\n\s+at /);
  } finally {
    await dev.stop("SIGKILL");
    for (const { pid } of processesUnder([app, dataDir])) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Vitest's summary in `output` (colours or not) says every test file passed. */
export function expectSuitePassed(output: string): void {
  // Vitest colours its summary where it thinks a terminal or CI wants it: read it plain.
  const plain = stripVTControlCharacters(output);
  expect(plain).toMatch(/Test Files\s+\d+ passed/);
  expect(plain).not.toMatch(/Test Files\s+\d+ failed/);
}
