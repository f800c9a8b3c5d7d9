// Every template of the repo other than the chat (chat-app.test.ts), as a person gets it and as
// Railway deploys it: generated from the tarball with `--pm pnpm` and installed by the CLI
// (pnpm's install of the vendored runtime; the rate limiter once more with yarn 1), standalone
// package.json files, its `typecheck` script; then railway.json's build and start commands in a clean copy with production
// settings: health 200, a write natural to the app (a finished match on the leaderboard, a
// conversation with a saved note, a tenant with a key that has spent its quota), made through
// the app's typed client where the app has one for outside callers, SIGTERM drains and exits 0
// within drainingSeconds, and a second start still has the write. The AI agent's README's two
// commands are run with pnpm too: `pnpm install && pnpm dev` (then Ctrl-C), and, opt-in as the
// chat's `npm test`, `pnpm test`.
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, delimiter, join } from "node:path";
import pg from "pg";
import { ActorError, createClient } from "troupe/client";
import { createScratchDatabase } from "troupe/db";
import { freePort, waitFor } from "troupe/test";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { AgentRegistry, ChatMessage } from "../../templates/ai-agent/src/actors/index.js";
import type { GameRegistry, MatchedEvent } from "../../templates/game/src/actors/index.js";
import type { LimiterRegistry } from "../../templates/rate-limiter/src/actors/index.js";
import {
  cleanCopy,
  cleanEnv,
  expectDevRunStopsOnCtrlC,
  expectDrainOnSigterm,
  expectStandalonePackages,
  expectSuitePassed,
  readmeCommands,
  run,
  scratchDir,
  startApp,
  waitForHealth,
} from "./helpers.js";
import { TEMPLATES_DIR } from "./paths.js";

const databases: { drop(): Promise<void> }[] = [];
afterAll(() => Promise.all(databases.map((d) => d.drop())));

/** What a deploy of one template writes before SIGTERM and finds again after the restart. */
interface Scenario {
  /** Production settings beyond DATABASE_URL, PORT and AUTH_SECRET. */
  env?: Record<string, string>;
  /** Tables (in the app's schema) the write must have reached before the process ended. */
  write(url: string, sql: Sql): Promise<unknown>;
  check(url: string, sql: Sql, written: any): Promise<void>;
}

type Sql = <T = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<T[]>;

async function postJson(url: string, body: unknown, token?: string): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

const ADMIN_PASSWORD = randomBytes(12).toString("hex");

const scenarios: Record<string, Scenario> = {
  // A one-player match of one second: its result and the player's rating reach SQL (the match's
  // outbox), and the leaderboard shows them.
  game: {
    env: {
      GAME_MATCH_SIZE: "1",
      GAME_COUNTDOWN_MS: "100",
      GAME_MATCH_DURATION_MS: "1000",
    },
    async write(url, sql) {
      const res = await postJson(`${url}/api/guest`, { name: "Ada" });
      expect(res.status).toBe(201);
      const { token, player } = (await res.json()) as { token: string; player: { id: string } };
      const client = createClient<GameRegistry>(url);
      const lobby = client.matchmaker.getOrCreate(["ffa"], { params: { token } }).connect();
      let matched: MatchedEvent;
      try {
        const found = new Promise<MatchedEvent>((r) => lobby.once("matched", r));
        await lobby.queue();
        matched = await found;
      } finally {
        await lobby.dispose();
      }
      const match = client.match
        .get([matched.matchId], { params: { ticket: matched.ticket } })
        .connect();
      try {
        const results = await new Promise<{ lines: { name: string }[] }>((r) =>
          match.once("results", r),
        );
        expect(results.lines.map((l) => l.name)).toEqual(["Ada"]);
      } finally {
        await match.dispose();
      }
      await waitFor(async () => (await sql("SELECT id FROM matches")).length === 1, {
        timeout: 30_000,
        what: "the match's results in SQL",
      });
      return { playerId: player.id, matchId: matched.matchId };
    },
    async check(url, _sql, { playerId, matchId }) {
      const board = (await (await fetch(`${url}/api/leaderboard`)).json()) as {
        players: { id: string; name: string; games: number }[];
      };
      expect(board.players).toEqual([
        expect.objectContaining({ id: playerId, name: "Ada", games: 1 }),
      ]);
      const profile = (await (await fetch(`${url}/api/players/${playerId}`)).json()) as {
        recent: { matchId: string }[];
      };
      expect(profile.recent.map((m) => m.matchId)).toEqual([matchId]);
    },
  },

  // A conversation in which the offline stand-in model saves a note through its tool.
  "ai-agent": {
    async write(url, sql) {
      const res = await postJson(`${url}/api/auth/organisations`, {
        orgName: "Deploy",
        displayName: "Ada",
        login: "ada",
        password: "smoke-password-1",
      });
      expect(res.status).toBe(201);
      const { token, user } = (await res.json()) as { token: string; user: { id: string } };
      const client = createClient<AgentRegistry>(url);
      const list = client.agentList.getOrCreate([user.id], { params: { token } });
      const conversation = await list.createConversation("Deploy notes");
      const agent = client.agent.get([user.id, conversation.id], { params: { token } }).connect();
      try {
        const { messageId } = await agent.send("save a note: deployed from railway.json");
        const answer = await waitFor(
          async () => {
            const view = await agent.getConversation();
            const m = view.messages.find((x) => x.id === messageId);
            return m && m.status !== "streaming" ? m : undefined;
          },
          { timeout: 30_000, what: "the answer" },
        );
        expect(answer.status).toBe("complete");
      } finally {
        await agent.dispose();
      }
      await waitFor(async () => (await sql("SELECT text FROM notes")).length === 1, {
        timeout: 30_000,
        what: "the note in SQL",
      });
      return { token, userId: user.id, conversationId: conversation.id };
    },
    async check(url, sql, { token, userId, conversationId }) {
      const client = createClient<AgentRegistry>(url);
      const list = client.agentList.getOrCreate([userId], { params: { token } });
      expect((await list.listConversations()).map((c) => c.id)).toEqual([conversationId]);
      const view = await client.agent
        .get([userId, conversationId], { params: { token } })
        .getConversation();
      expect(view.messages.map((m: ChatMessage) => [m.role, m.status])).toEqual([
        ["user", "complete"],
        ["assistant", "complete"],
      ]);
      const notes = await sql<{ text: string }>("SELECT text FROM notes");
      expect(notes.map((n) => n.text)).toEqual(["deployed from railway.json"]);
    },
  },

  // A tenant and its key made through the admin routes, the key's quota spent through the
  // public API; the limiter's actors take no outside callers, which the typed client is told;
  // the dashboard's `tenantTraffic`, opened with the admin's token, counts those requests.
  "rate-limiter": {
    env: { ADMIN_PASSWORD, BUDGET_MS: "10000" },
    async write(url) {
      const login = await postJson(`${url}/api/admin/login`, { password: ADMIN_PASSWORD });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      const plan = await fetch(`${url}/api/admin/plans/deploy`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({
          name: "Deploy check",
          rules: [
            {
              id: "quotes",
              match: { route: "/v1/quotes*", method: "GET" },
              algorithm: "fixed-window",
              limit: 2,
              windowMs: 7 * 24 * 3600_000,
            },
          ],
        }),
      });
      expect(plan.status).toBe(200);
      const tenant = await postJson(
        `${url}/api/admin/tenants`,
        { id: "acme", name: "Acme", planId: "deploy" },
        token,
      );
      expect(tenant.status).toBe(201);
      const created = await postJson(`${url}/api/admin/tenants/acme/keys`, { name: "ci" }, token);
      expect(created.status).toBe(201);
      const { key } = (await created.json()) as { key: string };
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${url}/v1/quotes`, { headers: { "x-api-key": key } });
        statuses.push(res.status);
        await res.body?.cancel();
      }
      expect(statuses).toEqual([200, 200, 429]);

      const outside = createClient<LimiterRegistry>(url).tenantLimiter.getOrCreate(["acme"]);
      const refused = await outside.configFor().catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(ActorError);
      expect((refused as ActorError).code).toBe("internal_actor");
      const traffic = createClient<LimiterRegistry>(url).tenantTraffic.getOrCreate(["acme"], {
        params: { token },
      });
      await waitFor(
        async () => {
          const quotes = (await traffic.recent()).map((s) => s.rules.quotes);
          const sum = (k: "allowed" | "limited") => quotes.reduce((n, r) => n + (r?.[k] ?? 0), 0);
          return sum("allowed") === 2 && sum("limited") === 1;
        },
        { what: "the dashboard's traffic to count 2 allowed and 1 limited", timeout: 30_000 },
      );
      return { key, token };
    },
    async check(url, _sql, { key, token }) {
      const tenants = (await (
        await fetch(`${url}/api/admin/tenants`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as { id: string }[];
      expect(tenants.map((t) => t.id)).toContain("acme");
      // The drained counter is still spent: the key stays limited.
      const res = await fetch(`${url}/v1/quotes`, { headers: { "x-api-key": key } });
      expect(res.status).toBe(429);
      await res.body?.cancel();
    },
  },
};

const others = readdirSync(TEMPLATES_DIR)
  .filter((name) => name !== "chat" && existsSync(join(TEMPLATES_DIR, name, "package.json")))
  .sort();

it("every template other than the chat has a deploy scenario here", () => {
  expect(Object.keys(scenarios).sort()).toEqual(others);
});

/**
 * Yarn 1 as a person gets it, from npm (`npm install yarn@1`, as `npx yarn@1` would): a folder
 * whose `node_modules/.bin` goes first on the PATH of everything the yarn case runs.
 */
async function yarnPath(): Promise<string> {
  const dir = await scratchDir("create-troupe-yarn-");
  await run("npm", ["install", "--prefix", dir, "--no-save", "yarn@1"], { cwd: dir });
  const bin = join(dir, "node_modules", ".bin");
  const { stdout } = await run("yarn", ["--version"], {
    cwd: dir,
    env: cleanEnv({ PATH: `${bin}${delimiter}${process.env.PATH}` }),
  });
  expect(stdout.trim()).toMatch(/^1\./);
  return `${bin}${delimiter}${process.env.PATH}`;
}

const LOCKFILES = { npm: "package-lock.json", pnpm: "pnpm-lock.yaml", yarn: "yarn.lock" };
/**
 * The app whose README's two commands are run here with pnpm (the chat's are run with npm in
 * chat-app.test.ts): the one whose own suite is the quickest. Measured in the repo on the shared
 * 2-core machine (load about 8): the AI agent's 76 to 79 s, the game's 144 s, the rate
 * limiter's 266 s (its worker test alone 146 s), the chat's about 3 minutes.
 */
const PNPM_README_APP = "ai-agent";
const cases: { template: string; pm: "pnpm" | "yarn" }[] = [
  ...others.map((template) => ({ template, pm: "pnpm" as const })),
  // Yarn 1 once, on the app with the fewest dependencies.
  { template: "rate-limiter", pm: "yarn" },
];

describe.each(cases)("the $template template, installed with $pm", ({ template, pm }) => {
  const scenario = scenarios[template]!;
  let app: string;
  let path: string | undefined;
  /** cleanEnv, with yarn on the PATH in the yarn case. */
  const envWith = (extra: Record<string, string> = {}) =>
    cleanEnv(path ? { PATH: path, ...extra } : extra);

  it("is generated standalone and passes its own typecheck", async () => {
    if (pm === "yarn") path = await yarnPath();
    const work = await scratchDir();
    const tarball = basename(inject("tarball"));
    copyFileSync(inject("tarball"), join(work, tarball));
    const name = `my-${template}`;
    const cli = await run(
      "npx",
      ["--yes", `./${tarball}`, name, "--template", template, "--pm", pm, "--no-git"],
      { cwd: work, env: envWith() },
    );
    expect(cli.stdout).toContain(`Dependencies installed with ${pm}`);
    app = join(work, name);
    const pkg = expectStandalonePackages(app);
    expect(pkg.name).toBe(name);
    expect(pkg.scripts.typecheck).toBe("tsc -p tsconfig.json");
    // What the template keeps to the repo (the game's Colyseus comparison) is not in the app.
    const only = JSON.parse(readFileSync(join(TEMPLATES_DIR, template, "package.json"), "utf8"))
      .monorepoOnly ?? { files: [], devDependencies: [], scripts: [] };
    expect(pkg.monorepoOnly).toBeUndefined();
    for (const file of only.files) expect(existsSync(join(app, file))).toBe(false);
    for (const dep of only.devDependencies) expect(pkg.devDependencies[dep]).toBeUndefined();
    for (const script of only.scripts) expect(pkg.scripts[script]).toBeUndefined();
    await run(pm, ["run", "typecheck"], { cwd: app, env: envWith() });
    if (pm === "pnpm") {
      // pnpm asks nothing after an install (the game's Phaser ships agent skills it would
      // otherwise offer to link, after every install).
      const again = await run("pnpm", ["install", "--frozen-lockfile", "--offline"], {
        cwd: app,
        env: envWith(),
      });
      expect(`${again.stdout}${again.stderr}`).not.toMatch(/awaiting approval/i);
    }
  });

  it.runIf(pm === "pnpm" && template === PNPM_README_APP)(
    "the README's run command serves with its own embedded Postgres; Ctrl-C stops it all",
    async () => {
      expect(app, "the app was not generated").toBeDefined();
      const { run: command } = readmeCommands(app);
      expect(command).toBe("pnpm install && pnpm dev");
      await expectDevRunStopsOnCtrlC(app, command);
    },
  );

  // The app's own suite: opt-in, as the chat's with npm (CREATE_APP_APP_TESTS=1, which .ci/run
  // sets), against this run's Postgres.
  it.runIf(
    pm === "pnpm" && template === PNPM_README_APP && process.env.CREATE_APP_APP_TESTS === "1",
  )("the README's test command passes (`pnpm test`)", async () => {
    expect(app, "the app was not generated").toBeDefined();
    const { test: command } = readmeCommands(app);
    expect(command).toBe("pnpm test");
    const { stdout } = await run("sh", ["-c", command], {
      cwd: app,
      env: envWith({ DATABASE_URL: inject("databaseUrl"), NO_COLOR: "1" }),
    });
    expectSuitePassed(stdout);
  });

  it("deploys: railway.json's build and start in a clean copy, a write, SIGTERM, a new start still has it", async () => {
    expect(app, "the app was not generated").toBeDefined();
    const railway = JSON.parse(readFileSync(join(app, "railway.json"), "utf8"));
    expect(railway.deploy).toMatchObject({ numReplicas: 1, healthcheckPath: "/api/health" });
    // Yarn 1 exits at once on SIGTERM, without waiting for the drain: Railway runs the start
    // script's own `exec node …` for it.
    const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8"));
    expect(railway.deploy.startCommand).toBe(
      pm === "yarn" ? pkg.scripts.start : `exec ${pm} start`,
    );
    const deploy = await cleanCopy(app);
    expect(existsSync(join(deploy, LOCKFILES[pm]))).toBe(true);
    // Railway builds with NODE_ENV=production.
    await run("sh", ["-c", railway.build.buildCommand], {
      cwd: deploy,
      env: envWith({ NODE_ENV: "production" }),
    });
    expect(existsSync(join(deploy, "dist", "server", "main.js"))).toBe(true);

    const db = await createScratchDatabase(inject("databaseUrl"));
    databases.push(db);
    const sql: Sql = async (text, values) => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        return (await client.query(text, values)).rows;
      } finally {
        await client.end();
      }
    };
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = envWith({
      NODE_ENV: "production",
      PORT: String(port),
      DATABASE_URL: db.url,
      AUTH_SECRET: randomBytes(32).toString("hex"),
      ...scenario.env,
    });

    const first = startApp(railway.deploy.startCommand, { cwd: deploy, env });
    let written: unknown;
    try {
      await waitForHealth(first, `${url}${railway.deploy.healthcheckPath}`);
      await waitFor(() => / ready on http/.test(first.output()), { what: "the ready line" });
      written = await scenario.write(url, sql);
      await expectDrainOnSigterm(first, railway.deploy.drainingSeconds);
    } finally {
      await first.stop("SIGKILL");
    }
    // The actors' state is in Postgres, not on the container's disk (wiped on redeploy).
    const actors = await sql<{ n: number }>("SELECT count(*)::int AS n FROM troupe.actors");
    expect(actors[0]!.n).toBeGreaterThan(0);

    const second = startApp(railway.deploy.startCommand, { cwd: deploy, env });
    try {
      await waitForHealth(second, `${url}${railway.deploy.healthcheckPath}`);
      await scenario.check(url, sql, written);
    } finally {
      await second.stop("SIGTERM");
    }
  });
});
