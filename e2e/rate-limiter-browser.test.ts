// The rate limiter's dashboard in headless Chromium against its production server (`start`:
// node on dist/server/main.js serving the built dashboard, Postgres for the app and the actors'
// state). The admin signs in, adds a tenant on the free plan, creates an API key (shown once,
// with a curl line that works), presses "Send load" and watches the live chart (events from the
// tenant's traffic actor) show allowed requests and 429s; moving the tenant to the pro plan stops
// the 429s, limits of its own (a quotes limit of 5) bring them back; a revoked key is refused;
// the usage history comes from SQL; the phone layout; a token the server refuses signs out. The tests run in order and share one page.
// Every step is a screenshot in e2e/artifacts/<test>/.

import type { Browser, BrowserContext, Page } from "playwright-core";
import { createScratchDatabase } from "troupe/db";
import { waitFor } from "troupe/test";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, type Screenshots, screenshots } from "./support/browser.js";
import { type ChatProduction, startChatProduction } from "./support/chat-server.js";
import { RATE_LIMITER_DIR } from "./support/paths.js";

const ADMIN_PASSWORD = "e2e-admin-password";
const UI_TIMEOUT = 20_000;
/** Traffic must cross the shard → traffic actor → browser path: generous on a loaded machine. */
const CHART_TIMEOUT = 45_000;

let server: ChatProduction;
let dropDatabase: (() => Promise<void>) | undefined;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let shots: Screenshots;
let key = "";
const pageLog: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  const scratch = await createScratchDatabase(inject("databaseUrl"));
  dropDatabase = scratch.drop;
  [server, browser, shots] = await Promise.all([
    startChatProduction({
      dir: RATE_LIMITER_DIR,
      label: "rate-limiter",
      databaseUrl: scratch.url,
      // Finished minutes of usage reach SQL within 2 s instead of a minute.
      env: { ADMIN_PASSWORD, USAGE_ROLLUP_MS: "2000" },
    }),
    launchChromium(),
    screenshots("rate limiter dashboard"),
  ]);
  context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  page.on("pageerror", (err) => {
    pageErrors.push(err.message);
    pageLog.push(`[pageerror] ${err.stack ?? err.message}`);
  });
  page.on("console", (msg) => pageLog.push(`[${msg.type()}] ${msg.text()}`));
  page.on("dialog", (dialog) => void dialog.accept());
}, 600_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === "fail") {
    console.error(`--- browser console (${ctx.task.name}) ---\n${pageLog.join("\n")}\n---`);
    console.error(`--- rate-limiter server output ---\n${server?.output()}\n---`);
  }
});

afterAll(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  await server?.close();
  await dropDatabase?.();
});

/** The 5-second averages the dashboard shows above the chart. */
async function rates(): Promise<{ allowed: number; limited: number }> {
  const [allowed, limited] = await Promise.all([
    page.getByTestId("allowed-rate").textContent(),
    page.getByTestId("limited-rate").textContent(),
  ]);
  return { allowed: Number(allowed), limited: Number(limited) };
}

/** Fills the load form and presses Send load; resolves with the counts once it is done. */
async function sendLoad(rate: number, seconds: number): Promise<Record<string, number>> {
  await page.getByLabel("req/s").fill(String(rate));
  await page.getByLabel("seconds").fill(String(seconds));
  await page.getByRole("button", { name: "Send load" }).click();
  const counts = page.getByTestId("load-counts");
  await counts.filter({ hasText: "(done)" }).waitFor({ timeout: seconds * 1000 + 30_000 });
  const text = (await counts.textContent()) ?? "";
  return Object.fromEntries(
    [...text.matchAll(/(\d{3}|error): (\d+)/g)].map((m) => [m[1]!, Number(m[2])]),
  );
}

/** The live chart's y-axis labels, bottom to top. */
async function yTicks(): Promise<number[]> {
  const labels = await page.getByTestId("live-chart").getByTestId("y-tick").allTextContents();
  return labels.map(Number);
}

/** Round (1, 2 or 5 × 10^n apart), evenly spaced ticks from 0: never "0 3 5". */
function expectRoundEvenTicks(ticks: number[]): void {
  expect(ticks.length, `ticks ${ticks.join(" ")}`).toBeGreaterThanOrEqual(3);
  const step = ticks[1]!;
  expect(step / 10 ** Math.floor(Math.log10(step)), `ticks ${ticks.join(" ")}`).toBeOneOf([
    1, 2, 5,
  ]);
  expect(ticks).toEqual(ticks.map((_, i) => i * step));
}

/**
 * The selects of the plan's rules that are narrower than their longest choice (its text would
 * be clipped, "sliding windov"): each compared with a copy of itself at its natural width.
 */
async function clippedRuleSelects(): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLSelectElement>(".rule select")].flatMap((select) => {
      const natural = select.cloneNode(true) as HTMLSelectElement;
      natural.style.width = "auto";
      natural.style.position = "absolute";
      natural.style.visibility = "hidden";
      document.body.append(natural);
      const needed = natural.getBoundingClientRect().width;
      natural.remove();
      const label = select.closest("label")?.firstChild?.textContent?.trim() ?? "select";
      const has = select.getBoundingClientRect().width;
      return has + 0.5 < needed ? [`${label}: ${Math.round(has)} px of ${Math.round(needed)}`] : [];
    }),
  );
}

async function choosePlan(label: string) {
  await page.locator(".plan-picker").getByLabel("Plan").selectOption({ label });
  await page
    .getByRole("link", { name: new RegExp(`Acme Inc.*${label.replace(/[()]/g, "\\$&")}`) })
    .waitFor();
}

describe("the rate limiter's dashboard", () => {
  it("signs the admin in, adds a tenant and an API key whose curl line works", async () => {
    await page.goto(server.url);
    await page.getByRole("heading", { name: "Rate limiter" }).waitFor();
    await shots.take(page, "sign in");

    await page.getByLabel("Admin password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "Wrong password." }).waitFor();
    await page.getByLabel("Admin password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("No tenants yet.").waitFor();
    await shots.take(page, "no tenants yet");

    await page.getByLabel("Name", { exact: true }).fill("Acme Inc");
    expect(await page.getByLabel("Id (in its API keys)").inputValue()).toBe("acme-inc");
    await page.getByRole("button", { name: "Add tenant" }).click();
    await page.getByRole("heading", { name: "Acme Inc" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/t/acme-inc");
    await page.getByTestId("live-status").filter({ hasText: "live" }).waitFor();
    await page.getByText("No keys yet.").waitFor();
    // No traffic yet: the chart draws no series at all (not a lone red line at 0), says so over
    // its empty axes, and those read in round, even steps.
    await page
      .getByTestId("no-traffic")
      .filter({ hasText: "No traffic in the last 2 minutes" })
      .waitFor();
    expect(await page.getByTestId("live-chart").locator("path").count()).toBe(0);
    expectRoundEvenTicks(await yTicks());
    // The load form's hint points to where keys are made: the API keys section, below it.
    const keyField = page.getByLabel("API key to send with");
    expect(await keyField.getAttribute("placeholder")).toContain("created below");
    const formTop = (await keyField.boundingBox())!.y;
    const keysTop = (await page.getByRole("heading", { name: "API keys" }).boundingBox())!.y;
    expect(keysTop).toBeGreaterThan(formTop);
    // Every choice of the rules' selects fits ("sliding window" was clipped).
    expect(await clippedRuleSelects()).toEqual([]);
    await shots.take(page, "a new tenant, no traffic yet");

    await page.getByLabel("Key name").fill("load test");
    await page.getByRole("button", { name: "Create key" }).click();
    const shown = page.getByTestId("new-key");
    await shown.waitFor();
    key = (await shown.locator("code").first().textContent()) ?? "";
    expect(key).toMatch(/^rl_acme-inc_[A-Za-z0-9_-]{43}$/);
    const curl = (await shown.locator("code").nth(1).textContent()) ?? "";
    expect(curl).toBe(`curl -i ${server.url}/v1/quotes -H "authorization: Bearer ${key}"`);
    // The line does what it says: the key is accepted by the public API.
    const res = await fetch(`${server.url}/v1/quotes`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-policy")).toBe('"quotes";q=20;w=60');
    await page.locator(".key-list").getByText("load test").waitFor();
    // Send load is filled with the key just made.
    expect(await page.getByLabel("API key to send with").inputValue()).toBe(key);
    await shots.take(page, "key created, shown once");
  });

  it("Send load moves the live chart, and 429s appear on the free plan", async () => {
    // 20 requests/s over quotes (sliding window, 20 a minute) and weather (bucket of 5, 1/s).
    await page.getByLabel("req/s").fill("20");
    await page.getByLabel("seconds").fill("30");
    await page.getByRole("button", { name: "Send load" }).click();
    await waitFor(
      async () => {
        // Once the free plan's limits bite, most of 20/s is refused.
        const r = await rates();
        return r.allowed > 0 && r.limited > r.allowed;
      },
      {
        timeout: CHART_TIMEOUT,
        interval: 250,
        what: "allowed and limited requests on the live chart",
      },
    );
    expect(Number(await page.getByTestId("live-chart").getAttribute("data-max"))).toBeGreaterThan(
      0,
    );
    // Both series drawn, on round, evenly spaced ticks, and no "no traffic" sentence.
    await page.getByTestId("live-chart").locator("path.line.allowed").waitFor();
    await page.getByTestId("live-chart").locator("path.line.limited").waitFor();
    expect(await page.getByTestId("no-traffic").count()).toBe(0);
    expectRoundEvenTicks(await yTicks());
    // Per endpoint: both rules appear, and each can be charted alone.
    await page.locator(".by-endpoint").getByText("weather").waitFor();
    await page.locator(".by-endpoint").getByText("quotes").waitFor();
    await page.getByTestId("load-counts").filter({ hasText: "429" }).waitFor();
    await shots.take(page, "live chart with 429s");
    await page.getByRole("button", { name: "weather", exact: true }).click();
    await shots.take(page, "weather endpoint alone");
    await page.getByRole("button", { name: "All endpoints" }).click();
    await page.getByRole("button", { name: "Stop" }).click();
    await page.getByTestId("load-counts").filter({ hasText: "(done)" }).waitFor();
  });

  it("the pro plan stops the 429s; limits of its own bring them back", async () => {
    await choosePlan("Pro");
    const onPro = await sendLoad(10, 6);
    expect(onPro["200"]).toBeGreaterThan(0);
    expect(onPro["429"]).toBeUndefined();
    // The chart follows: requests allowed, none limited in the last seconds.
    await waitFor(
      async () => {
        const r = await rates();
        return r.allowed > 0 && r.limited === 0;
      },
      { timeout: CHART_TIMEOUT, interval: 250, what: "allowed requests and no 429s on the chart" },
    );
    await shots.take(page, "pro plan, no 429s");

    await page.getByRole("button", { name: "Custom limits" }).click();
    await page.getByRole("heading", { name: "Limits of the plan “Acme Inc (custom)”" }).waitFor();
    const quotes = page.getByRole("group", { name: "Rule quotes" });
    // A refused value is explained, and nothing changes.
    await quotes.getByLabel("Limit").fill("0");
    await page.getByRole("button", { name: "Save limits" }).click();
    await page.getByRole("alert").filter({ hasText: "limit must be at least 1" }).waitFor();
    await quotes.getByLabel("Limit").fill("5");
    await page.getByRole("button", { name: "Save limits" }).click();
    await page.getByText("Saved: the shards have it.").waitFor();
    await shots.take(page, "custom limits saved");
    const custom = await sendLoad(10, 4);
    expect(custom["429"]).toBeGreaterThan(0);
    await waitFor(async () => (await rates()).limited > 0, {
      timeout: CHART_TIMEOUT,
      interval: 250,
      what: "429s on the chart again",
    });
    await shots.take(page, "custom limits, 429s again");
  });

  it("a revoked key is refused, and usage history comes from SQL", async () => {
    await page
      .locator(".key-list li")
      .filter({ hasText: "load test" })
      .getByRole("button", {
        name: "Revoke",
      })
      .click();
    await page.locator(".key-list li.revoked").filter({ hasText: "load test" }).waitFor();
    const res = await fetch(`${server.url}/v1/quotes`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([
      401,
      "revoked_api_key",
    ]);

    // Minutes reach SQL once they are over: refresh until the history shows them.
    await waitFor(
      async () => {
        await page.getByRole("button", { name: "Refresh" }).click();
        await page.getByRole("button", { name: "Refresh" }).waitFor();
        return (await page.getByTestId("usage-total").count()) > 0;
      },
      { timeout: 100_000, interval: 3000, what: "usage minutes in the history" },
    );
    const total = (await page.getByTestId("usage-total").textContent()) ?? "";
    const [, allowed, limited] = /(\d+) allowed, (\d+) limited/.exec(total) ?? [];
    expect(Number(allowed)).toBeGreaterThan(0);
    expect(Number(limited)).toBeGreaterThan(0);
    await page.getByRole("tab", { name: "Per day, last 30 days" }).click();
    await page.getByTestId("usage-total").waitFor();
    // For the screenshot. In the page, not with a locator: the history re-renders as rows arrive
    // (a locator's element can be replaced between finding it and scrolling to it).
    await page.evaluate(() =>
      document.querySelector('[data-testid="usage-total"]')?.scrollIntoView({ block: "center" }),
    );
    await shots.take(page, "key revoked, usage per day");
  }, 150_000);

  it("is usable at phone width", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("button", { name: "☰ Tenants" }).waitFor();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await clippedRuleSelects()).toEqual([]);
    await page.evaluate(() => window.scrollTo(0, 0));
    await shots.take(page, "phone");
    await page.getByRole("button", { name: "☰ Tenants" }).click();
    await page.getByRole("link", { name: /Acme Inc/ }).waitFor();
    await shots.take(page, "phone tenants");
    await page.getByRole("button", { name: "Close" }).click();
    await page.getByTestId("live-chart").waitFor();
  });

  it("a token the server does not take sends the admin back to the sign-in, saying why", async () => {
    await page.setViewportSize({ width: 1100, height: 800 });
    await page.evaluate(() => {
      const token = localStorage.getItem("troupe-rate-limiter:admin-token") ?? "";
      localStorage.setItem("troupe-rate-limiter:admin-token", `${token}x`);
    });
    await page.reload();
    await page.getByText("Your session ended. Please sign in again.").waitFor();
    await page.getByLabel("Admin password").waitFor();
    await shots.take(page, "session ended");
    expect(pageErrors).toEqual([]);
  });

  it("signing out ends the token on the server: a copy of it is refused", async () => {
    await page.getByLabel("Admin password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    const token = await page.evaluate(() =>
      localStorage.getItem("troupe-rate-limiter:admin-token"),
    );
    expect(token).toBeTruthy();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Admin password").waitFor();
    expect(
      await page.evaluate(() => localStorage.getItem("troupe-rate-limiter:admin-token")),
    ).toBeNull();
    const copy = await fetch(`${server.url}/api/admin/tenants`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(copy.status).toBe(401);
    expect(pageErrors).toEqual([]);
  });
});
