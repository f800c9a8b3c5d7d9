/**
 * `startApp`: the whole of a template's `src/main.ts` that is not the app itself, so that every
 * template starts, refuses and stops the same way. The app gives its name, how to read its own
 * settings and how to start its server; this checks everything that can be checked before
 * anything starts, in this order, and ends the process with one line
 * (`[name] could not start: …`) and exit code 1 at the first problem:
 *
 * 1. the app's own settings (`config(env)`: secrets first, so that a production start without
 *    its secret fails before anything else; any error it throws is the line);
 * 2. production without `DATABASE_URL` (no embedded Postgres in production);
 * 3. production without the built frontend, for an app that has one;
 * 4. `PORT` that is not a port number, or one already in use (or not allowed), before the
 *    embedded Postgres of development starts;
 * 5. the database: `DATABASE_URL`, or in development an embedded Postgres (`resolveDatabaseUrl`);
 * 6. the app's start (`start(...)`: a database that does not answer, say).
 *
 * Production is the server build (`built`, compiled in by `troupe/vite/server-build`) or
 * `NODE_ENV=production`: the server on `0.0.0.0:$PORT`, actor state in Postgres
 * (`chooseActorStorage`). In development an app with a frontend gets Vite (hot reload) on
 * `$PORT` in front of its API on an internal port (every request goes to the app first; what its
 * routes leave reaches the `frontend` it mounted, which hands it on to Vite); one without
 * listens on `$PORT` at `HOST` (default 127.0.0.1). SIGTERM and SIGINT drain (`stopOnSignals`),
 * registered before anything starts so that a signal during the start ends what has started.
 * Under `tsx watch` (the dev script sets `devWatchVariable`), a failure also stops the watcher,
 * which would otherwise wait for a file change instead of ending `dev`.
 *
 * @example
 * // src/main.ts
 * await startApp({
 *   name: "chat",
 *   built: process.env.TROUPE_CHAT_BUILT === "1",
 *   devWatchVariable: "CHAT_DEV_WATCH",
 *   database: { embeddedName: "chat-template", need: "the chat needs a PostgreSQL database for its data" },
 *   frontendDir: new URL("../dist/public", import.meta.url),
 *   devFrontend: process.env.TROUPE_CHAT_BUILT === "1" ? undefined : loadViteAndConfig,
 *   config: (env) => ({ authSecret: resolveAuthSecret(env) }),
 *   // startChatServer mounts `frontend` after its routes: serveFrontend(app, frontend)
 *   start: ({ config, ...listen }) => startChatServer({ ...listen, ...config }),
 * });
 * // loadViteAndConfig: imports `troupe/vite` and `../vite.config.js` together (see DevFrontendLoader).
 */
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { UserConfig } from "vite";
import { resolveDatabaseUrl } from "../db/index.js";
import type { StorageOption } from "../storage/open.js";
import type { FrontendDevServer, startFrontendDevServer } from "../vite/index.js";
import { DevFrontend } from "./dev-frontend.js";
import { chooseActorStorage, type StopOnSignalsOptions, stopOnSignals } from "./index.js";

/** What `start` gets: where to listen, the database, the actor storage and the app's settings. */
export interface AppStartContext<Config> {
  config: Config;
  production: boolean;
  databaseUrl: string;
  /** `$PORT`, or 0 (a free port) in development behind Vite. */
  port: number;
  /** `0.0.0.0` in production; `127.0.0.1` (or `HOST`) in development. */
  hostname: string;
  /** `chooseActorStorage` for this environment: Postgres in production. */
  storage: StorageOption | undefined;
  /**
   * What the app mounts after its routes with `serveFrontend(app, frontend)`: the built
   * frontend's directory in production, the `DevFrontend` that hands on to Vite in development
   * (so that the app's routes win over the pages in both); undefined for an app without one.
   */
  frontend: string | DevFrontend | undefined;
}

/** What `start` resolves with. */
export interface StartedAppServer {
  url: string;
  /** The app's request handler: in development Vite hands it every request first. */
  fetch?: (request: Request) => Response | Promise<Response>;
  /** Drains and closes (`listen().close()`). */
  close(): Promise<void>;
}

/**
 * Loads, from the app, the `troupe/vite` module and the app's Vite config module (its
 * `vite.config.ts`), both with dynamic imports so that the production build leaves them out.
 */
export type DevFrontendLoader = () => Promise<
  [{ startFrontendDevServer: typeof startFrontendDevServer }, { default: UserConfig }]
>;

export interface StartAppOptions<Config, Server extends StartedAppServer> {
  /** Names the app in its lines: `[chat] ready on …`, `[chat] could not start: …`. */
  name: string;
  /** True in the server build: the flag `troupe/vite/server-build` compiles in as "1". */
  built: boolean;
  /** Set (to "1") by the dev script that runs the app under `tsx watch`. */
  devWatchVariable?: string;
  database: {
    /** Name of the embedded Postgres of development (its data in /var/tmp/troupe-pg/<name>). */
    embeddedName: string;
    /**
     * Who needs it for what, for the production refusal: "the chat needs a PostgreSQL database
     * for its data" gives "DATABASE_URL is not set: in production the chat needs a PostgreSQL
     * database for its data and its actors' state (…)".
     */
    need: string;
  };
  /**
   * The built frontend (`dist/public`, holding index.html), for an app that has one. Production
   * refuses to start without it.
   */
  frontendDir?: string | URL;
  /**
   * Development only: loads `troupe/vite` and the app's Vite config. Pass `undefined` in the
   * build (a conditional on the built flag), so that Vite stays out of the production output.
   */
  devFrontend?: DevFrontendLoader;
  /** The app's own settings from the environment; throws an Error whose message is the line. */
  config?: (env: NodeJS.ProcessEnv) => Config;
  start: (context: AppStartContext<Config>) => Promise<Server>;
  /** Said in brackets after the ready line's URL, e.g. `model: offline`. */
  readyNote?: (server: Server) => string;
  /** Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Where the lines go and how the process ends: for tests. Default console and process. */
  io?: {
    out?: (line: string) => void;
    err?: (line: string) => void;
    exit?: (code: number) => void;
    signals?: StopOnSignalsOptions["signals"];
  };
}

export interface StartedApp<Server> {
  server: Server;
  /** Where people open it: Vite's URL in development, else the server's. */
  url: string;
  /** Stops the frontend and the server (what SIGTERM runs). */
  close(): Promise<void>;
}

/** Thrown to end `startApp` after `exit(1)` when `exit` returns (tests). */
class StartRefused extends Error {}

export async function startApp<
  Config = undefined,
  Server extends StartedAppServer = StartedAppServer,
>(opts: StartAppOptions<Config, Server>): Promise<StartedApp<Server>> {
  const env = opts.env ?? process.env;
  const out = opts.io?.out ?? ((line: string) => console.log(line));
  const err = opts.io?.err ?? ((line: string) => console.error(line));
  const exit = opts.io?.exit ?? ((code: number) => process.exit(code));
  const tag = `[${opts.name}]`;

  const fail = (message: string): never => {
    err(`${tag} could not start: ${message}`);
    if (opts.devWatchVariable && env[opts.devWatchVariable] === "1") {
      try {
        process.kill(process.ppid, "SIGTERM");
      } catch {}
    }
    exit(1);
    throw new StartRefused(message);
  };

  const production = opts.built || env.NODE_ENV === "production";
  // The build compiles production in: a stray NODE_ENV cannot make it a development server.
  const appEnv: NodeJS.ProcessEnv = production ? { ...env, NODE_ENV: "production" } : env;

  let config: Config;
  try {
    config = opts.config ? opts.config(appEnv) : (undefined as Config);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (production && !env.DATABASE_URL) {
    fail(
      `DATABASE_URL is not set: in production ${opts.database.need} and its actors' state (e.g. a Railway Postgres service's DATABASE_URL).`,
    );
  }
  const frontendDir =
    opts.frontendDir instanceof URL ? fileURLToPath(opts.frontendDir) : opts.frontendDir;
  if (production && frontendDir && !existsSync(join(frontendDir, "index.html"))) {
    fail(
      `the frontend is not built (${join(frontendDir, "index.html")} is missing): run the app's build script (\`pnpm build\` or \`npm run build\`) first.`,
    );
  }
  const port = env.PORT ? Number(env.PORT) : 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`PORT must be a port number (0-65535), not "${env.PORT}".`);
  }
  const withVite = !production && opts.devFrontend !== undefined;
  // Where $PORT is listened on: every interface in production; Vite's host (default localhost)
  // or the server's (default 127.0.0.1) in development.
  const publicHost = production ? undefined : env.HOST || (withVite ? "localhost" : "127.0.0.1");
  if (port !== 0) {
    const problem = await portProblem(port, publicHost);
    if (problem) fail(problem);
  }

  const databaseUrl = production
    ? (env.DATABASE_URL as string)
    : env.DATABASE_URL ||
      (await resolveDatabaseUrl({ name: opts.database.embeddedName }).catch((e: Error) =>
        fail(e.message.split("\n")[0]!),
      ));

  const started: { server?: Server; frontend?: FrontendDevServer } = {};
  const close = async () => {
    await Promise.allSettled([started.frontend?.close(), started.server?.close()]);
  };
  stopOnSignals(close, {
    log: (line) => err(`${tag} ${line}`),
    exit,
    signals: opts.io?.signals,
  });

  const devFrontend = withVite ? new DevFrontend() : undefined;
  const server = await opts
    .start({
      config,
      production,
      databaseUrl,
      port: withVite ? 0 : port,
      hostname: production ? "0.0.0.0" : withVite ? "127.0.0.1" : (publicHost as string),
      storage: chooseActorStorage(appEnv),
      frontend: production ? frontendDir : devFrontend,
    })
    .catch((e: Error) => fail(e.message));
  started.server = server;

  if (withVite && opts.devFrontend && devFrontend) {
    const apiFetch = server.fetch;
    if (!apiFetch) {
      await server.close();
      fail("the app's server has no fetch handler for Vite to hand requests to.");
    }
    if (!devFrontend.mounted) {
      await server.close();
      fail(
        "the app did not mount its frontend: its server must call serveFrontend(app, frontend) after its routes, with the `frontend` its start was given, so that Vite serves the pages its routes leave.",
      );
    }
    const [{ startFrontendDevServer }, { default: viteConfig }] = await opts.devFrontend();
    started.frontend = await startFrontendDevServer({
      config: viteConfig,
      port,
      host: env.HOST,
      apiUrl: server.url,
      apiFetch: apiFetch as NonNullable<StartedAppServer["fetch"]>,
      frontend: devFrontend,
    }).catch(async (e: Error) => {
      await server.close();
      return fail(`the Vite dev server did not start on port ${port}: ${e.message}`);
    });
  }
  const url = started.frontend?.url ?? server.url;
  const note = opts.readyNote?.(server);
  out(`${tag} ready on ${url}${note ? ` (${note})` : ""}`);
  return { server, url, close };
}

/** Why `port` cannot be listened on at `host`, in a sentence saying what to do; or undefined. */
export async function portProblem(
  port: number,
  host: string | undefined,
): Promise<string | undefined> {
  const probe = createServer();
  const problem = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    probe.once("error", resolve);
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
  switch (problem?.code) {
    case undefined:
      return undefined;
    case "EADDRINUSE":
      return `port ${port} is already in use (another \`pnpm dev\` or server?): stop what listens there, or set PORT to another port.`;
    case "EACCES":
      return `this user may not listen on port ${port}: set PORT to a port above 1023.`;
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
      return `cannot listen on ${host}: set HOST to an address of this machine (or leave it unset).`;
    default:
      return `cannot listen on port ${port}: ${problem?.message}.`;
  }
}
