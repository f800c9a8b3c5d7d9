#!/usr/bin/env node
// @ts-check
/**
 * `pnpm dev` at the root: the four templates at once, each with its own `dev` script (tsx watch,
 * Vite with hot reload, its embedded Postgres), each on its own port, in one terminal.
 *
 *   node scripts/dev.mjs                 all four
 *   node scripts/dev.mjs chat game       only those (`pnpm dev chat game`)
 *
 * Ports: `PORT` (default 3000) is the chat's, and the others follow in order (game +1, ai-agent
 * +2, rate-limiter +3); `CHAT_PORT`, `GAME_PORT`, `AI_AGENT_PORT`, `RATE_LIMITER_PORT` set one
 * app's port. Every line an app prints is prefixed with its name (`[game] …`; its own tagged
 * lines are not tagged twice), and once every app is either ready or has failed, a table of the
 * URLs follows.
 *
 * An app that cannot start does not stop the others: a port already in use is checked here
 * first (one line naming the app's port variable, the app is not started), and any other start
 * failure is the app's own one line (`[chat] could not start: …`). Only when no app is left
 * running does `dev` end, with exit code 1.
 *
 * Each app runs in its own process group (its shell, tsx watch, the app, its Postgres, esbuild).
 * Ctrl-C (SIGINT), SIGTERM or SIGHUP send the signal to every group, as a terminal would to one
 * `dev`: the app drains and Postgres shuts down. `dev` exits once every group is empty, so
 * nothing is left running; a group still there after STOP_TIMEOUT_MS is killed, and so is every
 * group at a second Ctrl-C.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** Longer than an app's own drain (8 s) plus tsx watch's wait before it kills the app (5 s). */
const STOP_TIMEOUT_MS = 15_000;

/**
 * @typedef {{
 *   name: string,
 *   dir: string,
 *   portVariable: string,
 *   databaseVariable: string,
 *   note?: (env: NodeJS.ProcessEnv) => string | undefined,
 * }} AppDefinition
 * @typedef {AppDefinition & { port: number, color: string, databaseUrl?: string }} PlannedApp
 */

/** @type {AppDefinition[]} */
const APPS = [
  {
    name: "chat",
    dir: "templates/chat",
    portVariable: "CHAT_PORT",
    databaseVariable: "CHAT_DATABASE_URL",
  },
  {
    name: "game",
    dir: "templates/game",
    portVariable: "GAME_PORT",
    databaseVariable: "GAME_DATABASE_URL",
  },
  {
    name: "ai-agent",
    dir: "templates/ai-agent",
    portVariable: "AI_AGENT_PORT",
    databaseVariable: "AI_AGENT_DATABASE_URL",
  },
  {
    name: "rate-limiter",
    dir: "templates/rate-limiter",
    portVariable: "RATE_LIMITER_PORT",
    databaseVariable: "RATE_LIMITER_DATABASE_URL",
    // Without an admin yet, its ready line says the first visit chooses the password.
  },
];

const colors = ["36", "35", "33", "32"];
const useColor = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;

/** @param {string} line */
const say = (line) => process.stdout.write(`${tag("dev", "1")} ${line}\n`);
/** @param {string} line */
const complain = (line) => process.stderr.write(`${tag("dev", "1")} ${line}\n`);

/**
 * @param {string} name
 * @param {string} color
 */
function tag(name, color) {
  return useColor ? `\x1b[${color}m[${name}]\x1b[0m` : `[${name}]`;
}

/**
 * Which apps, on which ports; or the one line that says what is wrong with the command.
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ apps: PlannedApp[] } | { error: string }}
 */
function plan(args, env) {
  const unknown = args.filter((a) => !APPS.some((app) => app.name === a));
  if (unknown.length > 0) {
    return {
      error: `unknown app ${unknown.map((u) => JSON.stringify(u)).join(", ")}: the apps are ${APPS.map((a) => a.name).join(", ")}.`,
    };
  }
  const base = env.PORT ? Number(env.PORT) : 3000;
  if (!Number.isInteger(base) || base < 1 || base + APPS.length - 1 > 65535) {
    return {
      error: `PORT must be a port number (1-${65535 - APPS.length + 1}), not "${env.PORT}".`,
    };
  }
  /** @type {PlannedApp[]} */
  const apps = [];
  for (const [i, app] of APPS.entries()) {
    const own = env[app.portVariable];
    const port = own ? Number(own) : base + i;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return { error: `${app.portVariable} must be a port number (1-65535), not "${own}".` };
    }
    if (args.length === 0 || args.includes(app.name)) {
      apps.push({ ...app, port, color: colors[i % colors.length] });
    }
  }
  // Their tables (two have a `messages`) and drizzle's migration journal would collide in one
  // database: each app gets its own, its embedded Postgres unless `<APP>_DATABASE_URL` is set.
  if (env.DATABASE_URL && apps.length > 1) {
    return {
      error: `DATABASE_URL is set, but the apps cannot share one database (their tables and migrations would collide): unset it to give each its own embedded Postgres, or set ${apps.map((a) => a.databaseVariable).join(", ")} instead, one database each.`,
    };
  }
  for (const app of apps) {
    app.databaseUrl = env[app.databaseVariable] || env.DATABASE_URL || undefined;
  }
  for (const app of apps) {
    const other = apps.find((a) => a !== app && a.port === app.port);
    if (other) {
      return {
        error: `${app.name} and ${other.name} would both listen on port ${app.port}: set ${app.portVariable} or ${other.portVariable} to another port.`,
      };
    }
  }
  return { apps };
}

/**
 * Whether `port` can be listened on at `host`, as the app's own start checks it (Vite's host).
 * @param {number} port
 * @param {string | undefined} host
 * @returns {Promise<NodeJS.ErrnoException | undefined>}
 */
function listenProblem(port, host) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", resolve);
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

/**
 * @typedef {{
 *   app: PlannedApp,
 *   state: "starting" | "ready" | "failed" | "exited",
 *   url?: string,
 *   note?: string,
 *   reason?: string,
 *   pgid?: number,
 *   exited?: Promise<number | null>,
 * }} Running
 */

async function main() {
  const planned = plan(process.argv.slice(2), process.env);
  if ("error" in planned) {
    complain(`could not start: ${planned.error}`);
    process.exit(1);
  }
  const host = process.env.HOST || "localhost";

  /** @type {Running[]} */
  const running = planned.apps.map((app) => ({ app, state: "starting" }));
  const problems = await Promise.all(running.map((r) => listenProblem(r.app.port, host)));
  // Every port taken is most likely another `pnpm dev`: one line for all.
  if (problems.every((p) => p?.code === "EADDRINUSE")) {
    const ports = running.map((r) => r.app.port).join(", ");
    const variable = running.length === 1 ? running[0].app.portVariable : "PORT";
    complain(
      `could not start: ${running.length > 1 ? `ports ${ports} are` : `port ${ports} is`} already in use (another \`pnpm dev\`?): stop what listens there, or set ${variable} to another ${running.length > 1 ? "first port" : "port"}.`,
    );
    process.exit(1);
  }
  for (const [i, r] of running.entries()) {
    const problem = problems[i];
    if (!problem) continue;
    r.state = "failed";
    r.reason =
      problem.code === "EADDRINUSE"
        ? `port ${r.app.port} is already in use`
        : `cannot listen on port ${r.app.port} (${problem.code ?? problem.message})`;
    process.stderr.write(
      `${tag(r.app.name, r.app.color)} could not start: ${r.reason}: stop what listens there, or set ${r.app.portVariable} to another port; the other apps start without it.\n`,
    );
  }

  let stopping = false;
  let tablePrinted = false;
  const printTableOnceSettled = () => {
    if (tablePrinted || stopping || running.some((r) => r.state === "starting")) return;
    tablePrinted = true;
    const width = Math.max(...running.map((r) => r.app.name.length));
    const up = running.filter((r) => r.state === "ready");
    const lines = running.map((r) => {
      const name = r.app.name.padEnd(width);
      if (r.state !== "ready") return `  ${name}  not running: ${r.reason ?? "see above"}`;
      return `  ${name}  ${r.note ? `${(r.url ?? "").padEnd(24)}  ${r.note}` : r.url}`;
    });
    if (up.length === 0) return;
    say(
      `${up.length === running.length ? "ready" : `${up.length} of ${running.length} ready`} (Ctrl-C stops ${up.length === 1 ? "it" : "them all"}):\n${lines.join("\n")}`,
    );
  };

  if (running.every((r) => r.state === "failed")) process.exit(1);
  for (const r of running) {
    if (r.state === "starting") start(r);
  }

  /** @param {Running} r */
  function start(r) {
    const { app } = r;
    const cwd = join(ROOT, app.dir);
    const pkg = /** @type {{ scripts: { dev: string } }} */ (
      JSON.parse(readFileSync(join(cwd, "package.json"), "utf8"))
    );
    const child = spawn("sh", ["-c", pkg.scripts.dev], {
      cwd,
      env: {
        ...process.env,
        PORT: String(app.port),
        DATABASE_URL: app.databaseUrl,
        PATH: [join(cwd, "node_modules", ".bin"), process.env.PATH].join(delimiter),
        ...(useColor ? { FORCE_COLOR: "1" } : {}),
      },
      // Its own process group, so that the whole app (Postgres included) can be signalled and
      // waited for.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    r.pgid = child.pid;
    const ready = new RegExp(`^\\[${app.name}\\] ready on (\\S+)(?: \\((.*)\\))?$`);
    const ownTag = `[${app.name}]`;
    /**
     * @param {NodeJS.ReadableStream} stream
     * @param {NodeJS.WriteStream} to
     */
    const relay = (stream, to) => {
      let partial = "";
      /** @param {string} line */
      const emit = (line) => {
        const bare = line.replace(/\r$/, "");
        if (r.state === "starting") {
          const m = ready.exec(bare);
          if (m) {
            r.state = "ready";
            r.url = m[1];
            r.note = [m[2], app.note?.(process.env)].filter(Boolean).join("; ") || undefined;
          }
        }
        const text = bare.startsWith(ownTag) ? bare.slice(ownTag.length).trimStart() : bare;
        to.write(`${tag(app.name, app.color)} ${text}\n`);
        if (r.state === "ready") printTableOnceSettled();
      };
      stream.setEncoding("utf8");
      stream.on("data", (/** @type {string} */ chunk) => {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) emit(line);
      });
      stream.on("end", () => {
        if (partial) emit(partial);
        partial = "";
      });
    };
    relay(/** @type {NodeJS.ReadableStream} */ (child.stdout), process.stdout);
    relay(/** @type {NodeJS.ReadableStream} */ (child.stderr), process.stderr);
    r.exited = new Promise((resolve) => {
      child.once("error", (err) => {
        process.stderr.write(`${tag(app.name, app.color)} could not start: ${err.message}\n`);
        resolve(null);
      });
      child.once("close", (code) => resolve(code));
    });
    void r.exited.then(async (code) => {
      // The shell is gone; what it started may not be yet (a Postgres shutting down).
      if (r.pgid) await groupGone(r.pgid, STOP_TIMEOUT_MS);
      const wasReady = r.state === "ready";
      r.state = r.state === "starting" ? "failed" : "exited";
      if (!stopping) {
        if (wasReady) {
          complain(`${app.name} stopped (exit code ${code}); the other apps keep running.`);
        }
        printTableOnceSettled();
        if (running.every((x) => x.state === "failed" || x.state === "exited")) {
          process.exit(1);
        }
      }
    });
  }

  /** @param {NodeJS.Signals} signal */
  const signalAll = (signal) => {
    for (const r of running) {
      if (!r.pgid) continue;
      try {
        process.kill(-r.pgid, signal);
      } catch {}
    }
  };
  /** @param {NodeJS.Signals} signal */
  const stop = async (signal) => {
    if (stopping) {
      // A second Ctrl-C: no more waiting.
      signalAll("SIGKILL");
      return;
    }
    stopping = true;
    signalAll(signal);
    await Promise.all(
      running.map(async (r) => {
        if (!r.pgid) return;
        if (!(await groupGone(r.pgid, STOP_TIMEOUT_MS))) {
          complain(`${r.app.name} did not stop within ${STOP_TIMEOUT_MS / 1000} s: killed.`);
          try {
            process.kill(-r.pgid, "SIGKILL");
          } catch {}
          await groupGone(r.pgid, STOP_TIMEOUT_MS);
        }
      }),
    );
    process.exit(0);
  };
  for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"])) {
    process.on(signal, () => void stop(signal));
  }
  // Should this process end some other way (a bug), the apps are not left behind.
  process.once("exit", () => signalAll("SIGTERM"));
}

/**
 * Waits until no process is left in the group (true), or `timeoutMs` (false).
 * @param {number} pgid
 * @param {number} timeoutMs
 */
async function groupGone(pgid, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pgid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/**
 * Whether a process of the group still runs. Zombies do not count: where nothing reaps orphans
 * (a container whose first process is not an init), they would otherwise keep a group alive.
 * @param {number} pgid
 */
function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code === "ESRCH") return false;
  }
  let pids;
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return true; // no /proc: the signal's answer is all there is
  }
  return pids.some((pid) => {
    try {
      // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(pgrp) === pgid && state !== "Z";
    } catch {
      return false; // gone meanwhile
    }
  });
}

await main();
