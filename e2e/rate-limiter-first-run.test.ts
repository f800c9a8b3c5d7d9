// The rate limiter's first run in development, as a newcomer meets it after `pnpm dev`: its
// `dev` server (tsx on src/main.ts, Vite in front of the API) on a fresh database without
// ADMIN_PASSWORD. The dashboard's sign-in screen is the first-run form "Choose the admin
// password"; its rules are shown in words; the chosen password creates the admin and opens the
// dashboard. A second browser that had the form open meanwhile is told someone else set it up
// and signs in with that password. Every step is a screenshot in e2e/artifacts/<test>/.

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { createScratchDatabase } from "troupe/db";
import { freePort, waitFor } from "troupe/test";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, type Screenshots, screenshots } from "./support/browser.js";
import { serverEnv } from "./support/chat-server.js";
import { RATE_LIMITER_DIR } from "./support/paths.js";

const PASSWORD = "first-run-admin-password";
const UI_TIMEOUT = 30_000;

let child: ChildProcess | undefined;
let exited: Promise<void> = Promise.resolve();
let output = "";
let url = "";
let dropDatabase: (() => Promise<void>) | undefined;
let browser: Browser;
let shots: Screenshots;
const pageLog: string[] = [];

beforeAll(async () => {
  const scratch = await createScratchDatabase(inject("databaseUrl"));
  dropDatabase = scratch.drop;
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const env = serverEnv(
    {
      NODE_ENV: "development",
      PORT: String(port),
      DATABASE_URL: scratch.url,
      AUTH_SECRET: randomBytes(32).toString("hex"),
      TROUPE_STORAGE: "memory",
    },
    RATE_LIMITER_DIR,
  );
  // A newcomer's first start: no admin password given, and the database is new.
  delete env.ADMIN_PASSWORD;
  // The template's `dev` without the file watcher, in its own process group.
  child = spawn("tsx", ["src/main.ts"], {
    cwd: RATE_LIMITER_DIR,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const proc = child;
  proc.stdout!.on("data", (d) => {
    output += d;
  });
  proc.stderr!.on("data", (d) => {
    output += d;
  });
  let exitCode: string | undefined;
  exited = new Promise((resolve) =>
    proc.once("exit", (code, signal) => {
      exitCode = signal ?? String(code);
      resolve();
    }),
  );
  [browser, shots] = await Promise.all([
    launchChromium(),
    screenshots("rate limiter first run"),
    waitFor(
      async () => {
        if (exitCode !== undefined) throw new Error(`dev exited (${exitCode}):\n${output}`);
        const res = await fetch(`${url}/api/health`).catch(() => undefined);
        return res?.ok === true;
      },
      { timeout: 120_000, interval: 200, what: "the rate limiter's dev server" },
    ),
  ]);
  await waitFor(() => /^\[rate-limiter\] ready on /m.test(output), { what: "the ready line" });
}, 300_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === "fail") {
    console.error(`--- browser console (${ctx.task.name}) ---\n${pageLog.join("\n")}\n---`);
    console.error(`--- rate-limiter dev output ---\n${output}\n---`);
  }
});

afterAll(async () => {
  await browser?.close();
  if (child?.pid && child.exitCode === null && child.signalCode === null) {
    process.kill(-child.pid, "SIGTERM");
    await exited;
  }
  await dropDatabase?.();
});

async function openPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  page.on("pageerror", (err) => pageLog.push(`[pageerror] ${err.stack ?? err.message}`));
  page.on("console", (msg) => pageLog.push(`[${msg.type()}] ${msg.text()}`));
  return page;
}

describe("the rate limiter's first run after pnpm dev", () => {
  it("asks for the admin password, checks it, creates the admin and opens the dashboard; a second browser is told to sign in", async () => {
    // The ready line (which the root `pnpm dev` puts in its table) says what to do.
    expect(output).toMatch(
      /^\[rate-limiter\] ready on http:\/\/\S+ \(no admin yet: the first visit chooses the admin password\)$/m,
    );
    const first = await openPage();
    const second = await openPage();
    await Promise.all([first.goto(url), second.goto(url)]);
    for (const page of [first, second]) {
      await page.getByRole("heading", { name: "Choose the admin password" }).waitFor();
    }
    await shots.take(first, "first-run form");

    const newPassword = first.getByLabel("New admin password");
    const repeat = first.getByLabel("Repeat it");
    const submit = first.getByRole("button", { name: "Set the password and sign in" });
    await newPassword.fill("too-short");
    await repeat.fill("too-short");
    await submit.click();
    await first
      .getByRole("alert")
      .filter({ hasText: "The admin password must be at least 12 characters long." })
      .waitFor();
    await newPassword.fill(PASSWORD);
    await repeat.fill(`${PASSWORD}!`);
    await submit.click();
    await first.getByRole("alert").filter({ hasText: "The two passwords differ." }).waitFor();
    await shots.take(first, "the passwords differ");
    // Nothing was sent yet: still no admin.
    expect(await (await fetch(`${url}/api/admin/setup`)).json()).toEqual({
      adminExists: false,
      setupAvailable: true,
    });

    await repeat.fill(PASSWORD);
    await submit.click();
    await first.getByText("No tenants yet.").waitFor();
    await shots.take(first, "signed in: the dashboard");

    // The second browser still shows the form: its choice loses, and it signs in instead.
    await second.getByLabel("New admin password").fill("another-password-entirely");
    await second.getByLabel("Repeat it").fill("another-password-entirely");
    await second.getByRole("button", { name: "Set the password and sign in" }).click();
    await second
      .getByText("Someone else has set the admin password already: sign in with it.")
      .waitFor();
    await shots.take(second, "someone else set it up");
    await second.getByLabel("Admin password").fill(PASSWORD);
    await second.getByRole("button", { name: "Sign in" }).click();
    await second.getByText("No tenants yet.").waitFor();

    // A reload of a signed-out page now shows the sign-in form, not the first-run form.
    const third = await openPage();
    await third.goto(url);
    await third.getByRole("button", { name: "Sign in" }).waitFor();
    expect(await third.getByRole("heading", { name: "Choose the admin password" }).count()).toBe(0);
    await shots.take(third, "later visitors sign in");
  });
});
