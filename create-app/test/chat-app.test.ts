// The chat, as a person meets it: `npx <the packed create-troupe>` generates it into a folder
// outside the repo and installs it with npm; the app is standalone (no `workspace:`, no path
// out of the app, the runtime vendored), its README's run command serves with the app's own
// embedded Postgres and stops on Ctrl-C leaving nothing running, its build and `start` serve
// the API with a real action through the typed client, and its `railway.json` build and start
// commands, run in a clean copy with production settings, give a deploy that drains on SIGTERM
// and keeps what was written across a restart.
import { randomBytes } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  realpathSync,
} from "node:fs";
import { basename, join, sep } from "node:path";
import pg from "pg";
import { createClient } from "troupe/client";
import { createScratchDatabase } from "troupe/db";
import { freePort, waitFor } from "troupe/test";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ChatRegistry } from "../../templates/chat/src/actors/index.js";
import {
  appFiles,
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
import { REPO_ROOT } from "./paths.js";

const NAME = "my-chat";
const secret = randomBytes(32).toString("hex");
let work: string;
let app: string;
let cli: { stdout: string; stderr: string };
const databases: { drop(): Promise<void> }[] = [];

beforeAll(async () => {
  work = await scratchDir();
  // The form: `npx --yes ./create-troupe-<v>.tgz my-app`, the code path of
  // `npm create troupe@latest` once published.
  const tarball = basename(inject("tarball"));
  copyFileSync(inject("tarball"), join(work, tarball));
  cli = await run(
    "npx",
    ["--yes", `./${tarball}`, NAME, "--template", "chat", "--pm", "npm", "--no-git"],
    { cwd: work },
  );
  app = join(work, NAME);
});
afterAll(() => Promise.all(databases.map((d) => d.drop())));

async function scratchDatabase(): Promise<string> {
  const db = await createScratchDatabase(inject("databaseUrl"));
  databases.push(db);
  return db.url;
}

/** Signs up an organisation over HTTP and returns its admin's token. */
async function signUp(url: string, org: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/organisations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      orgName: org,
      displayName: "Ada",
      login: "ada",
      password: "smoke-password-1",
    }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

describe("create-troupe my-chat --template chat --pm npm", () => {
  it("says what it did and the two commands to run next", () => {
    expect(cli.stdout).toContain(`chat template written to ${app}`);
    expect(cli.stdout).toContain("Dependencies installed with npm");
    expect(cli.stdout).toContain(`cd ${NAME} && npm run dev`);
    expect(cli.stdout).toContain("npm test");
  });

  it("writes a standalone app: vendored runtime, no workspace: specifier, no path out of it", () => {
    const files = appFiles(app);
    for (const expected of [
      "package.json",
      "README.md",
      "railway.json",
      ".gitignore",
      ".env.example",
      "tsconfig.json",
      "vendor/troupe/package.json",
      "vendor/troupe/PROTOCOL.md",
      "src/server.ts",
      "test/helpers.ts",
    ]) {
      expect(files).toContain(expected);
    }
    // No tests of the runtime, no build output, no local data travelled.
    expect(files.filter((f) => f.startsWith("vendor/") && f.includes(".test."))).toEqual([]);

    const pkg = expectStandalonePackages(app);
    expect(pkg.name).toBe(NAME);

    // Nothing in the app names the repo, and nothing installed lives outside the app.
    for (const file of files) {
      const text = readFileSync(join(app, file), "utf8");
      if (text.includes(REPO_ROOT)) throw new Error(`${file} names the repo (${REPO_ROOT})`);
    }
    expect(realpathSync(join(app, "node_modules", "troupe"))).toBe(join(app, "vendor", "troupe"));
    for (const entry of readdirSync(join(app, "node_modules"))) {
      const real = realpathSync(join(app, "node_modules", entry));
      expect([entry, real.startsWith(app + sep)]).toEqual([entry, true]);
    }
    expect(lstatSync(join(app, "vendor", "troupe")).isSymbolicLink()).toBe(false);

    const readme = readFileSync(join(app, "README.md"), "utf8");
    expect(readme.split("\n").slice(0, 6).join("\n")).toBe(
      [
        `# ${NAME}`,
        "",
        "```sh",
        "npm install && npm run dev   # install, then start with hot reload (prints the URL)",
        "npm test                     # run the tests",
        "```",
      ].join("\n"),
    );
    expect(readme).not.toContain("--filter");
    expect(readme).not.toMatch(/\]\(\.\.\//);
  });

  it("passes its own typecheck (`npm run typecheck`)", async () => {
    const pkg = JSON.parse(readFileSync(join(app, "package.json"), "utf8"));
    expect(pkg.scripts.typecheck).toBe("tsc -p tsconfig.json");
    await run("npm", ["run", "typecheck"], { cwd: app });
  });

  it("builds, and `npm start` serves: health, and a real action through the typed client", async () => {
    const build = await run("npm", ["run", "build"], { cwd: app });
    // npm takes the newest Vite 8: its build says nothing deprecated (Vite 8.4 deprecates the
    // `runner` config loader the server build needed while its config was TypeScript).
    expect(`${build.stdout}${build.stderr}`).not.toMatch(/deprecat/i);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = startApp("npm start", {
      cwd: app,
      env: cleanEnv({
        PORT: String(port),
        DATABASE_URL: await scratchDatabase(),
        AUTH_SECRET: secret,
      }),
    });
    try {
      const health = await waitForHealth(server, `${url}/api/health`);
      expect(await health.json()).toEqual({ ok: true, database: "up" });
      // Printed just after the server starts listening, so it may follow the first health answer.
      await waitFor(() => server.output().includes(`[chat] ready on http://localhost:${port}`), {
        what: "the ready line",
      });
      const token = await signUp(url, "Smoke");
      const client = createClient<ChatRegistry>(url);
      const room = await client.chatRoomList
        .getOrCreate(["smoke"], { params: { token } })
        .createRoom("general");
      expect(room.name).toBe("general");
      // The built frontend is served too.
      expect((await fetch(`${url}/`)).headers.get("content-type")).toContain("text/html");
    } finally {
      await server.stop("SIGTERM");
    }
  });
});

describe("the README's run command", () => {
  it("`npm install && npm run dev` serves with its own embedded Postgres; Ctrl-C stops it all", async () => {
    const { run: command } = readmeCommands(app);
    expect(command).toBe("npm install && npm run dev");
    await expectDevRunStopsOnCtrlC(app, command);
  });
});

// The app's whole own suite (25 files, about 3 minutes on a quiet machine): opt-in, to keep the
// default run within CI's budget. CREATE_APP_APP_TESTS=1 runs it, against this run's Postgres.
describe.runIf(process.env.CREATE_APP_APP_TESTS === "1")("the app's own tests", () => {
  it("npm test passes in the generated app", async () => {
    const { test: command } = readmeCommands(app);
    expect(command).toBe("npm test");
    const { stdout } = await run("sh", ["-c", command], {
      cwd: app,
      env: cleanEnv({ DATABASE_URL: inject("databaseUrl"), NO_COLOR: "1" }),
    });
    expectSuitePassed(stdout);
  });
});

describe("deploy: railway.json's build and start commands in a clean copy", () => {
  it("health 200, a write, SIGTERM drains and exits, a new start still has the write", async () => {
    const railway = JSON.parse(readFileSync(join(app, "railway.json"), "utf8"));
    expect(railway.deploy.numReplicas).toBe(1);
    expect(railway.deploy.healthcheckPath).toBe("/api/health");
    const deploy = await cleanCopy(app);
    expect(existsSync(join(deploy, "package-lock.json"))).toBe(true);

    // Railway builds with NODE_ENV=production.
    await run("sh", ["-c", railway.build.buildCommand], {
      cwd: deploy,
      env: cleanEnv({ NODE_ENV: "production" }),
    });
    expect(existsSync(join(deploy, "dist", "server", "main.js"))).toBe(true);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const databaseUrl = await scratchDatabase();
    const env = cleanEnv({
      NODE_ENV: "production",
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      AUTH_SECRET: secret,
    });
    const first = startApp(railway.deploy.startCommand, { cwd: deploy, env });
    let roomId: string;
    let token: string;
    try {
      await waitForHealth(first, `${url}${railway.deploy.healthcheckPath}`);
      token = await signUp(url, "Deploy");
      const client = createClient<ChatRegistry>(url);
      roomId = (
        await client.chatRoomList
          .getOrCreate(["deploy"], { params: { token } })
          .createRoom("general")
      ).id;
      const conn = client.chatRoom.get(["deploy", roomId], { params: { token } }).connect();
      try {
        await conn.send("written before the redeploy");
      } finally {
        await conn.dispose();
      }

      await expectDrainOnSigterm(first, railway.deploy.drainingSeconds);
    } finally {
      await first.stop("SIGKILL");
    }

    // The actors' state is in Postgres, not on the (wiped) disk of the container.
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ name: string }>(
        "SELECT DISTINCT name FROM troupe.actors ORDER BY name",
      );
      expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining(["chatRoom", "chatRoomList"]));
      // And the room's outbox reached the app's tables before the process ended.
      const messages = await db.query<{ text: string }>("SELECT text FROM messages");
      expect(messages.rows.map((r) => r.text)).toEqual(["written before the redeploy"]);
    } finally {
      await db.end();
    }

    const second = startApp(railway.deploy.startCommand, { cwd: deploy, env });
    try {
      await waitForHealth(second, `${url}${railway.deploy.healthcheckPath}`);
      const client = createClient<ChatRegistry>(url);
      const rooms = await client.chatRoomList
        .getOrCreate(["deploy"], { params: { token } })
        .listRooms();
      expect(rooms.map((r) => r.name)).toEqual(["general"]);
      const conn = client.chatRoom.get(["deploy", roomId], { params: { token } }).connect();
      try {
        const { messages } = await conn.getRoom();
        expect(messages.map((m) => m.text)).toEqual(["written before the redeploy"]);
      } finally {
        await conn.dispose();
      }
    } finally {
      await second.stop("SIGTERM");
    }
  });
});
