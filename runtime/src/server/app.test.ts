// startApp, the shared start of every template's main.ts: each refusal is one line and exit 1
// before anything starts (in the documented order), and a start prints the ready line, serves
// on the port it was given and drains on SIGTERM with exit 0. Real sockets throughout.
import { EventEmitter } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../free-port.js";
import { actor, setup } from "../index.js";
import { waitFor } from "../test/wait.js";
import { type DevFrontendLoader, type StartAppOptions, startApp } from "./app.js";
import type { DevFrontend } from "./dev-frontend.js";
import { listen, serveFrontend } from "./index.js";

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const counter = actor({ state: { count: 0 }, actions: { get: (c) => c.state.count } });

/** Runs startApp with its lines, exit codes and signals captured instead of the process's. */
function harness(
  env: NodeJS.ProcessEnv,
  overrides: Partial<StartAppOptions<{ secret: string }, Awaited<ReturnType<typeof serve>>>> = {},
) {
  const out: string[] = [];
  const err: string[] = [];
  const exits: number[] = [];
  const signals = new EventEmitter();
  let started = 0;
  const run = startApp({
    name: "demo",
    built: false,
    database: {
      embeddedName: "demo-never-started",
      need: "the demo needs a PostgreSQL database for its notes",
    },
    config: (e) => {
      if (!e.AUTH_SECRET) throw new Error("AUTH_SECRET is not set.");
      return { secret: e.AUTH_SECRET };
    },
    start: (ctx) => {
      started++;
      return serve(ctx.port, ctx.hostname);
    },
    env,
    io: {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      exit: (code) => exits.push(code),
      signals: signals as unknown as NodeJS.Process,
    },
    ...overrides,
  });
  return { run, out, err, exits, signals, started: () => started };
}

async function serve(port: number, hostname: string, frontend?: string | DevFrontend) {
  const registry = setup({ use: { counter }, storage: { driver: "memory" } });
  const app = new Hono();
  app.get("/api/health", (c) => c.json({ ok: true }));
  app.all("/api/troupe/*", (c) => registry.handler(c.req.raw));
  // A public API outside /api (as the rate limiter's /v1).
  app.get("/v1/hello", (c) => c.json({ hello: "from the app" }));
  if (frontend) serveFrontend(app, frontend);
  const server = await listen(app, registry, { port, hostname });
  return { ...server, fetch: app.fetch };
}

const DB = "postgres://nobody@127.0.0.1:9/none";

describe("startApp refuses with one line and exit 1, before starting anything", () => {
  it("the app's own settings first (a production start without its secret)", async () => {
    const h = harness({ NODE_ENV: "production" });
    await expect(h.run).rejects.toThrow("AUTH_SECRET is not set.");
    expect(h.err).toEqual(["[demo] could not start: AUTH_SECRET is not set."]);
    expect(h.exits).toEqual([1]);
    expect(h.started()).toBe(0);
  });

  it("production without DATABASE_URL, saying what the app needs it for", async () => {
    const h = harness({ NODE_ENV: "production", AUTH_SECRET: "s" });
    await expect(h.run).rejects.toThrow();
    expect(h.err).toEqual([
      "[demo] could not start: DATABASE_URL is not set: in production the demo needs a PostgreSQL database for its notes and its actors' state (e.g. a Railway Postgres service's DATABASE_URL).",
    ]);
    expect(h.exits).toEqual([1]);
  });

  it("the built flag is production whatever NODE_ENV says", async () => {
    const h = harness({ NODE_ENV: "development", AUTH_SECRET: "s" }, { built: true });
    await expect(h.run).rejects.toThrow();
    expect(h.err[0]).toMatch(/^\[demo\] could not start: DATABASE_URL is not set/);
  });

  it("production without the built frontend", async () => {
    const dir = await mkdtemp(join(tmpdir(), "troupe-start-"));
    dirs.push(dir);
    const h = harness(
      { NODE_ENV: "production", AUTH_SECRET: "s", DATABASE_URL: DB },
      { frontendDir: dir },
    );
    await expect(h.run).rejects.toThrow();
    expect(h.err).toEqual([
      `[demo] could not start: the frontend is not built (${join(dir, "index.html")} is missing): run the app's build script (\`pnpm build\` or \`npm run build\`) first.`,
    ]);
  });

  it("a PORT that is not a port number", async () => {
    const h = harness({ AUTH_SECRET: "s", DATABASE_URL: DB, PORT: "http" });
    await expect(h.run).rejects.toThrow();
    expect(h.err).toEqual([
      '[demo] could not start: PORT must be a port number (0-65535), not "http".',
    ]);
  });

  it("a port something else listens on", async () => {
    const taken = createServer();
    const port = await new Promise<number>((r) =>
      taken.listen(0, "127.0.0.1", () => r((taken.address() as { port: number }).port)),
    );
    try {
      const h = harness({ AUTH_SECRET: "s", DATABASE_URL: DB, PORT: String(port) });
      await expect(h.run).rejects.toThrow();
      expect(h.err).toEqual([
        `[demo] could not start: port ${port} is already in use (another \`pnpm dev\` or server?): stop what listens there, or set PORT to another port.`,
      ]);
      expect(h.started()).toBe(0);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it("development with Vite, when the app's server did not mount the frontend it was given", async () => {
    let viteLoaded = false;
    const h = harness(
      { AUTH_SECRET: "s", DATABASE_URL: DB, PORT: String(await freePort()) },
      {
        devFrontend: () => {
          viteLoaded = true;
          return Promise.reject(new Error("not reached"));
        },
      },
    );
    await expect(h.run).rejects.toThrow();
    expect(h.err).toEqual([
      "[demo] could not start: the app did not mount its frontend: its server must call serveFrontend(app, frontend) after its routes, with the `frontend` its start was given, so that Vite serves the pages its routes leave.",
    ]);
    expect(viteLoaded).toBe(false);
  });

  it("the app's start failing (its message is the line)", async () => {
    const h = harness(
      { AUTH_SECRET: "s", DATABASE_URL: DB, PORT: "0" },
      {
        start: () =>
          Promise.reject(new Error("The database at 127.0.0.1:9 refused the connection.")),
      },
    );
    await expect(h.run).rejects.toThrow();
    expect(h.err).toEqual([
      "[demo] could not start: The database at 127.0.0.1:9 refused the connection.",
    ]);
  });
});

describe("startApp starts", () => {
  it("serves on $PORT, prints the ready line, and drains on SIGTERM with exit 0", async () => {
    const port = await freePort();
    const h = harness(
      { AUTH_SECRET: "s", DATABASE_URL: DB, PORT: String(port) },
      { readyNote: () => "note" },
    );
    const app = await h.run;
    expect(h.out).toEqual([`[demo] ready on http://127.0.0.1:${port} (note)`]);
    expect(app.url).toBe(`http://127.0.0.1:${port}`);
    expect((await fetch(`${app.url}/api/health`)).status).toBe(200);
    h.signals.emit("SIGTERM");
    await waitFor(() => h.exits.length > 0, { what: "the drain to exit" });
    expect(h.exits).toEqual([0]);
    await expect(fetch(`${app.url}/api/health`)).rejects.toThrow();
    expect(h.err).toEqual([]);
  });

  it("in production on every interface, with the built frontend there", async () => {
    const dir = await mkdtemp(join(tmpdir(), "troupe-start-"));
    dirs.push(dir);
    await writeFile(join(dir, "index.html"), "<!doctype html>");
    const port = await freePort();
    let seen: { hostname: string; frontend?: unknown; storage: unknown } | undefined;
    const h = harness(
      { NODE_ENV: "production", AUTH_SECRET: "s", DATABASE_URL: DB, PORT: String(port) },
      {
        frontendDir: dir,
        start: (ctx) => {
          seen = ctx;
          return serve(ctx.port, ctx.hostname);
        },
      },
    );
    const app = await h.run;
    try {
      expect(seen).toMatchObject({
        hostname: "0.0.0.0",
        frontend: dir,
        storage: { driver: "postgres", connectionString: DB, schema: "troupe" },
      });
      expect((await fetch(`http://127.0.0.1:${port}/api/health`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe("startApp in development with Vite", () => {
  it("answers the app's routes, outside /api too, and leaves the rest to Vite", async () => {
    const root = await mkdtemp(join(tmpdir(), "troupe-start-vite-"));
    dirs.push(root);
    await writeFile(join(root, "index.html"), "<!doctype html><title>dev page</title>");
    const port = await freePort();
    const loadVite: DevFrontendLoader = async () => [
      await import("../vite/index.js"),
      { default: { root, logLevel: "silent", clearScreen: false } },
    ];
    const h = harness(
      { AUTH_SECRET: "s", DATABASE_URL: DB, PORT: String(port), HOST: "127.0.0.1" },
      {
        devFrontend: loadVite,
        start: (ctx) => serve(ctx.port, ctx.hostname, ctx.frontend),
      },
    );
    const app = await h.run;
    try {
      expect(app.url).toBe(`http://127.0.0.1:${port}`);
      const html = { accept: "text/html,*/*;q=0.8" };
      const api = await fetch(`${app.url}/v1/hello`, { headers: html });
      expect(api.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await api.json()).toEqual({ hello: "from the app" });
      const page = await fetch(`${app.url}/some/page`, { headers: html });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("<title>dev page</title>");
    } finally {
      await app.close();
    }
  });
});
