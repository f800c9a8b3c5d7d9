/**
 * `troupe/cloudflare/local` (Node only): runs a Worker built on `troupe/cloudflare` on `workerd`,
 * Cloudflare's open-source Workers runtime, with no account and no wrangler. The entry is bundled
 * with esbuild, a Cap'n Proto config is written next to the bundle, and `workerd serve` listens on
 * 127.0.0.1 with the Durable Objects stored on local disk (SQLite files in `dataDir`), so state
 * and alarms survive a restart as they do on Cloudflare.
 *
 * Needs the `workerd` and `esbuild` packages (dev dependencies of the app).
 *
 * @example
 * const worker = await startWorkerd({ entry: "src/worker.ts", dataDir: ".troupe/workerd" });
 * const client = createClient(`${worker.url}/api/troupe`);
 * await worker.restart(); // same data, new process
 * await worker.stop();
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { get } from "node:http";
import { builtinModules, createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { freePort } from "../free-port.js";
import { DEFAULT_BINDING } from "./index.js";

export interface WorkerdOptions {
  /** The Worker's entry module (TypeScript or JavaScript): exports `default` and `ActorHandler`. */
  entry: string;
  /** Where Durable Objects keep their SQLite files. Default: a new temporary directory. */
  dataDir?: string;
  /** Port on 127.0.0.1. Default: a free one, picked again on each (re)start. */
  port?: number;
  /** Durable Object namespace binding. Default `ACTOR_DO`. */
  binding?: string;
  /**
   * Several Durable Object classes (e.g. one `createHandler` per registry in one Worker): binding
   * name → the class the entry exports under that name. Default `{ [binding]: "ActorHandler" }`.
   */
  durableObjects?: Record<string, string>;
  /** Workers compatibility date. Default `2026-11-01`. */
  compatibilityDate?: string;
  /** Extra `[name, text]` bindings for the Worker's `env`. */
  vars?: Record<string, string>;
  /** Gets workerd's output (stdout and stderr) line by line. Default: kept for error messages. */
  onOutput?: (line: string) => void;
  /** How long to wait for the Worker to answer, in ms. Default 60 000. */
  startTimeout?: number;
}

export interface RunningWorkerd {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The last lines workerd printed (for failure messages). */
  output(): string;
  /**
   * Stops workerd (SIGTERM, SIGKILL after 5 s) for good: the bundle's temporary directory is
   * removed, with the data when no `dataDir` was given.
   */
  stop(): Promise<void>;
  /** Kills workerd at once, as a crash would (SIGKILL). */
  kill(): Promise<void>;
  /** Stops and starts it again on the same data directory. */
  restart(): Promise<void>;
}

export async function startWorkerd(options: WorkerdOptions): Promise<RunningWorkerd> {
  const require = createRequire(import.meta.url);
  const workerdBin = join(dirname(require.resolve("workerd/package.json")), "bin", "workerd");
  const esbuild = (await import("esbuild")) as typeof import("esbuild");

  const buildDir = await mkdtemp(join(tmpdir(), "troupe-workerd-"));
  const dataDir = resolve(options.dataDir ?? join(buildDir, "data"));
  await mkdir(dataDir, { recursive: true });
  const bundle = join(buildDir, "worker.mjs");
  await esbuild.build({
    entryPoints: [resolve(options.entry)],
    outfile: bundle,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    // esbuild adds "import" or "require" by how a module is loaded (a CommonJS require of a
    // dual package must get its CommonJS side).
    conditions: ["workerd", "worker"],
    external: ["cloudflare:*"],
    plugins: [nodeBuiltins],
    logLevel: "silent",
  });

  const binding = options.binding ?? DEFAULT_BINDING;
  const durableObjects = options.durableObjects ?? { [binding]: "ActorHandler" };
  for (const [name, className] of Object.entries(durableObjects)) {
    if (!/^[A-Za-z_$][\w$]*$/.test(name) || !/^[A-Za-z_$][\w$]*$/.test(className)) {
      throw new Error(
        `startWorkerd: durableObjects needs JavaScript identifiers, got ${JSON.stringify(name)} → ${JSON.stringify(className)}.`,
      );
    }
  }
  const lines: string[] = [];
  const record = (line: string) => {
    lines.push(line);
    if (lines.length > 200) lines.shift();
    options.onOutput?.(line);
  };

  let child: ChildProcess | undefined;
  let port = 0;

  const launch = async () => {
    port = options.port ?? (await freePort());
    const config = join(buildDir, "config.capnp");
    await writeFile(
      config,
      capnpConfig({
        bundle,
        dataDir,
        port,
        durableObjects,
        compatibilityDate: options.compatibilityDate ?? "2026-11-01",
        vars: options.vars ?? {},
      }),
    );
    const proc = spawn(workerdBin, ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    for (const stream of [proc.stdout, proc.stderr]) {
      let rest = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop() ?? "";
        for (const part of parts) record(part);
      });
    }
    const deadline = Date.now() + (options.startTimeout ?? 60_000);
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`workerd exited before serving:\n${lines.slice(-30).join("\n")}`);
      }
      try {
        await probe(port);
        return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await stopChild(proc, "SIGKILL");
        throw new Error(
          `workerd did not answer within the start timeout:\n${lines.slice(-30).join("\n")}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  await launch();
  const running: RunningWorkerd = {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    dataDir,
    output: () => lines.join("\n"),
    stop: async () => {
      if (child) await stopChild(child, "SIGTERM");
      await rm(buildDir, { recursive: true, force: true });
    },
    kill: async () => {
      if (child) await stopChild(child, "SIGKILL");
    },
    restart: async () => {
      if (child) await stopChild(child, "SIGTERM");
      await launch();
    },
  };
  return running;
}

/**
 * Resolves once workerd answers an HTTP request on `port` (any status). Through node:http rather
 * than the global fetch, which a DOM test environment (happy-dom, jsdom) replaces with a browser's
 * that refuses a cross-origin answer without CORS headers.
 */
function probe(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = get(`http://127.0.0.1:${port}/__troupe_workerd_probe`, (res) => {
      res.resume();
      res.once("end", () => resolve());
      res.once("error", reject);
    });
    req.once("error", reject);
  });
}

/**
 * Node built-ins (bare or `node:`) stay imports, served by workerd's `nodejs_compat`. A
 * CommonJS `require()` of one (`pg` does that) cannot stay a `require` in an ES module bundle, so
 * it goes through a small module that imports the built-in and hands its default export over.
 */
const nodeBuiltins = {
  name: "node-builtins",
  setup(build: import("esbuild").PluginBuild) {
    const names = new Set(builtinModules);
    build.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, (args) => {
      const bare = args.path.replace(/^node:/, "");
      if (!names.has(bare) && !names.has(bare.split("/")[0]!)) return undefined;
      if (args.kind === "require-call") return { path: `node:${bare}`, namespace: "node-require" };
      return { path: `node:${bare}`, external: true };
    });
    build.onLoad({ filter: /.*/, namespace: "node-require" }, (args) => ({
      contents: `import builtin from ${JSON.stringify(args.path)};\nmodule.exports = builtin;\n`,
      loader: "js",
    }));
  },
};

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** The Cap'n Proto config: one Worker, its Durable Object classes on local disk, one socket. */
function capnpConfig(o: {
  bundle: string;
  dataDir: string;
  port: number;
  durableObjects: Record<string, string>;
  compatibilityDate: string;
  vars: Record<string, string>;
}): string {
  const text = (s: string) => JSON.stringify(s); // Cap'n Proto text literals escape like JSON
  const vars = Object.entries(o.vars)
    .map(([name, value]) => `(name = ${text(name)}, text = ${text(value)})`)
    .join(", ");
  const entries = Object.entries(o.durableObjects);
  const namespaces = entries
    .map(
      ([name, className]) => `(name = ${text(name)}, durableObjectNamespace = ${text(className)})`,
    )
    .join(", ");
  // The first class keeps the unique key of the single-class layout, so data stays readable.
  const classes = entries
    .map(
      ([, className], i) =>
        `(className = ${text(className)}, uniqueKey = ${text(i === 0 ? "troupe-actor-handler" : `troupe-${className}`)}, enableSql = true)`,
    )
    .join(", ");
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "actor-storage", disk = (path = ${text(o.dataDir)}, writable = true)),
    # Outbound fetch() and connect() (TCP, e.g. pg to Postgres): workerd's default network
    # allows public addresses only; a local Worker must reach a database on this machine too.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = ${text(`127.0.0.1:${o.port}`)}, http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "worker.mjs")],
  compatibilityDate = ${text(o.compatibilityDate)},
  compatibilityFlags = [${o.compatibilityDate < "2026-08-04" ? '"nodejs_compat"' : ""}],
  bindings = [${namespaces}${vars ? `, ${vars}` : ""}],
  durableObjectNamespaces = [${classes}],
  durableObjectStorage = (localDisk = "actor-storage"),
  globalOutbound = "internet",
);
`;
}
