// The AI agent's built frontend in headless Chromium against its production server (`start`:
// node on dist/server/main.js, Postgres for the app and the actors' state), with the offline
// stand-in model at a slow pace so answers can be watched, stopped and reloaded mid-stream:
// a workspace is created, a prompt streams token by token and Stop leaves it "stopped"; a second
// tab follows the same answer live and a reload mid-answer resumes it with no duplicate text; a
// note is saved and its deletion waits for Approve; a reminder arrives while no page is open;
// at 1280x800 the list keeps its end in view (an approval card's buttons above the composer)
// and the reader's place once they scroll up; a server killed mid-answer shows "Reconnecting…"
// and the answer "interrupted"; the phone layout; Grace joins by Ada's invite link and cannot
// open Ada's conversation. The tests run in order and share Ada's browser context. Every step is
// a screenshot in e2e/artifacts/<test>/.

import pg from "pg";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { createScratchDatabase } from "troupe/db";
import { waitFor } from "troupe/test";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, screenshots } from "./support/browser.js";
import { type ChatProduction, startChatProduction } from "./support/chat-server.js";
import { AI_AGENT_DIR } from "./support/paths.js";

/** Slow enough to watch and stop, fast enough that whole answers end in seconds. */
const TOKENS_PER_SECOND = 15;
const UI_TIMEOUT = 20_000;
const RECONNECT_TIMEOUT = 60_000;
const PASSWORD = "e2e-password-1234";
const ORG_NAME = "Agents Inc";
const ORG = "agents-inc";
const LOGIN = "ada";

let server: ChatProduction;
let dropDatabase: (() => Promise<void>) | undefined;
let databaseUrl: string;
let browser: Browser;
const contexts: BrowserContext[] = [];
const pageLog: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  const scratch = await createScratchDatabase(inject("databaseUrl"));
  dropDatabase = scratch.drop;
  databaseUrl = scratch.url;
  [server, browser] = await Promise.all([
    startChatProduction({
      dir: AI_AGENT_DIR,
      label: "ai-agent",
      databaseUrl: scratch.url,
      env: { STAND_IN_TOKENS_PER_SECOND: String(TOKENS_PER_SECOND) },
    }),
    launchChromium(),
  ]);
}, 600_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === "fail") {
    console.error(`--- browser console (${ctx.task.name}) ---\n${pageLog.join("\n")}\n---`);
    console.error(`--- ai-agent server output ---\n${server?.output()}\n---`);
  }
});

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await server?.close();
  await dropDatabase?.();
});

async function newContext(options: Parameters<Browser["newContext"]>[0] = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  contexts.push(context);
  return context;
}

async function newPage(context: BrowserContext, who: string): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  page.on("pageerror", (err) => {
    pageErrors.push(`[${who}] ${err.message}`);
    pageLog.push(`[${who} pageerror] ${err.stack ?? err.message}`);
  });
  page.on("console", (msg) => pageLog.push(`[${who} ${msg.type()}] ${msg.text()}`));
  return page;
}

/** The last assistant answer of the open conversation. */
function lastAnswer(page: Page) {
  return page.locator("li.message.assistant").last();
}

/** The whole text of the last answer (its parts before and after any tool card, joined). */
async function answerText(page: Page): Promise<string> {
  return (await lastAnswer(page).locator(".text").allTextContents()).join("");
}

/** The text after the last tool card of the last answer: what the agent said once it ran. */
async function textAfterLastCard(page: Page): Promise<string> {
  return lastAnswer(page).evaluate((li) => {
    const cards = li.querySelectorAll(".tool-card");
    const last = cards[cards.length - 1];
    return [...li.querySelectorAll(".text")]
      .filter((t) => !last || last.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING)
      .map((t) => t.textContent ?? "")
      .join("");
  });
}

/** The sign-in card's message in words (not the browser's own validation bubble). */
function formAlert(page: Page) {
  return page.locator("form[aria-label] [role=alert]");
}

/** Where an element sits against the visible part of the message list, in pixels. */
async function visibleInList(page: Page, selector: string) {
  const list = await page.locator(".messages").boundingBox();
  const box = await page.locator(selector).boundingBox();
  if (!list || !box) return { inside: false, list, box };
  return {
    inside: box.y >= list.y && box.y + box.height <= list.y + list.height,
    list,
    box,
  };
}

/**
 * How far the message list is from its bottom (0: at the bottom), and its scroll position,
 * once the page has rendered what it has (its ResizeObservers run then, not on a layout read).
 */
async function listScroll(page: Page) {
  await page.evaluate(
    () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))),
  );
  return page.locator(".messages").evaluate((el) => ({
    top: el.scrollTop,
    fromBottom: el.scrollHeight - el.scrollTop - el.clientHeight,
    overflows: el.scrollHeight > el.clientHeight,
  }));
}

/** "1 2 3 … n": what the stand-in answers to "count to n". */
function counting(n: number): string {
  return Array.from({ length: n }, (_, i) => String(i + 1)).join(" ");
}

async function send(page: Page, prompt: string): Promise<void> {
  await page.getByLabel("Prompt").fill(prompt);
  await page.getByLabel("Prompt").press("Enter");
}

async function newConversation(page: Page): Promise<void> {
  const before = page.url();
  await page.getByRole("button", { name: "New conversation" }).first().click();
  await waitFor(() => page.url() !== before && /\/c\/[^/]+$/.test(page.url()), {
    timeout: UI_TIMEOUT,
    what: "the new conversation to open",
  });
  await page.getByText("Ask anything.").waitFor();
}

describe("the AI agent in a browser (production build, stand-in model)", () => {
  let ada: BrowserContext;
  let page: Page;

  it("creates a workspace, streams an answer token by token and stops it", async () => {
    const shots = await screenshots("ai-agent stream and stop");
    ada = await newContext();
    page = await newPage(ada, "ada");
    await page.goto(server.url);
    // A browser that never entered a workspace starts where a first person would.
    await expect
      .poll(() =>
        page.getByRole("tab", { name: "Create a workspace" }).getAttribute("aria-selected"),
      )
      .toBe("true");
    // The password's rule is said before anyone types one.
    await page.getByText("At least 8 characters.").waitFor();
    // Checked in the page, in words, field by field from the top (no browser bubble).
    await page.getByRole("button", { name: "Create workspace" }).click();
    await formAlert(page).filter({ hasText: "Name your workspace." }).waitFor({ timeout: 5_000 });
    await shots.take(page, "empty form explained");
    await page.getByLabel("Workspace name").fill(ORG_NAME);
    await page.getByLabel("Username or email").fill(LOGIN);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create workspace" }).click();
    // The first field left wrong, in form order: the name, before the short password below it.
    await formAlert(page).filter({ hasText: "Enter your name." }).waitFor({ timeout: 5_000 });
    await page.getByLabel("Your name").fill("Ada");
    await page.getByRole("button", { name: "Create workspace" }).click();
    await formAlert(page)
      .filter({ hasText: "Choose a password of at least 8 characters." })
      .waitFor({ timeout: 5_000 });
    await shots.take(page, "short password explained");
    await page.getByLabel("Workspace name").fill(ORG_NAME);
    await page.getByLabel("Your name").fill("Ada");
    await page.getByLabel("Username or email").fill(LOGIN);
    await page.getByLabel("Password").fill(PASSWORD);
    await shots.take(page, "create a workspace");
    await page.getByRole("button", { name: "Create workspace" }).click();
    await page.getByText("No conversations yet").waitFor();
    await shots.take(page, "empty conversation list");

    await newConversation(page);
    // The stand-in is named as such.
    await page.getByText("Stand-in model (offline, not a real AI)").waitFor();
    await send(page, "count to 300");
    await waitFor(async () => (await answerText(page)).startsWith("1 2 3 4 "), {
      timeout: UI_TIMEOUT,
      what: "the answer to start streaming",
    });
    const early = await answerText(page);
    await waitFor(async () => (await answerText(page)).length > early.length, {
      timeout: UI_TIMEOUT,
      what: "more tokens to arrive",
    });
    expect(await lastAnswer(page).getAttribute("data-status")).toBe("streaming");
    await shots.take(page, "streaming");

    await page.getByRole("button", { name: "Stop" }).click();
    await lastAnswer(page).locator(".status-badge", { hasText: "stopped" }).waitFor();
    const stopped = await answerText(page);
    // The partial answer is kept, cut between two numbers, far before the end.
    expect(counting(300).startsWith(stopped.trimEnd())).toBe(true);
    expect(stopped.trimEnd().split(" ").length).toBeLessThan(300);
    await page.getByRole("button", { name: "Send" }).waitFor();
    await shots.take(page, "stopped message");
    // The title follows the first prompt; the list shows it.
    await page.locator(".conversation-list").getByText("count to 300").waitFor();
    expect(pageErrors).toEqual([]);
  });

  it("shows the same stream in a second tab and resumes it after a reload, without duplicates", async () => {
    const shots = await screenshots("ai-agent two tabs and reload");
    // A new conversation open in two tabs of the same person.
    await newConversation(page);
    const second = await newPage(ada, "ada-tab-2");
    await second.goto(page.url());
    await second.getByText("Ask anything.").waitFor();

    const n = 150;
    await send(page, `count to ${n}`);
    await waitFor(async () => (await answerText(second)).startsWith("1 2 3 "), {
      timeout: UI_TIMEOUT,
      what: "the second tab to show the stream",
    });
    // The title taken from the first prompt reached the other tab's header before the answer's
    // first words did (the agent sends it when it takes the prompt).
    expect(await second.locator(".conversation-head h2").textContent()).toBe(`count to ${n}`);
    await shots.take(second, "second tab follows the stream");

    // A reload mid-answer: the page comes back into the same answer, still streaming.
    await second.reload();
    await waitFor(async () => (await answerText(second)).startsWith("1 2 3 "), {
      timeout: UI_TIMEOUT,
      what: "the reloaded tab to show the answer so far",
    });
    expect(await lastAnswer(second).getAttribute("data-status")).toBe("streaming");
    await shots.take(second, "reloaded mid-answer");

    for (const p of [page, second]) {
      await lastAnswer(p).and(p.locator('[data-status="complete"]')).waitFor({ timeout: 60_000 });
      // Exactly the answer: nothing repeated, nothing missing.
      expect((await answerText(p)).trim()).toBe(counting(n));
    }
    await shots.take(second, "second tab complete");
    // A finished answer counts its tokens, for the conversation and for the day.
    expect(await second.getByTestId("conversation-usage").textContent()).toMatch(/^[1-9]/);
    await waitFor(
      async () => /^Today: [1-9]/.test((await page.getByTestId("usage-today").textContent()) ?? ""),
      { timeout: UI_TIMEOUT, what: "today's usage to count the answer" },
    );
    await second.close();
    expect(pageErrors).toEqual([]);
  });

  it("asks before deleting a note and goes on after Approve", async () => {
    const shots = await screenshots("ai-agent approve a tool");
    await newConversation(page);
    // A provider failing mid-answer: the message ends as "error" with the reason in words.
    await send(page, "fail after 3 words");
    await lastAnswer(page).locator(".status-badge", { hasText: "error" }).waitFor();
    expect(await lastAnswer(page).locator("p.error").textContent()).toContain("failed on purpose");
    await shots.take(page, "error with its reason");
    await send(page, "save a note: buy oat milk");
    await page.locator('.tool-card[data-tool="saveNote"].done').waitFor();
    await lastAnswer(page).and(page.locator('[data-status="complete"]')).waitFor();

    await send(page, "delete the note about oat milk");
    const card = page.locator('.tool-card[data-tool="deleteNote"]');
    await card.getByRole("button", { name: "Approve" }).waitFor();
    await lastAnswer(page).locator(".status-badge", { hasText: "waiting for approval" }).waitFor();
    expect(await card.locator(".tool-args").textContent()).toContain("oat milk");
    await shots.take(page, "approval asked");

    await card.getByRole("button", { name: "Approve" }).click();
    await page.locator('.tool-card[data-tool="deleteNote"].done').waitFor();
    await lastAnswer(page).and(page.locator('[data-status="complete"]')).waitFor();
    // The request stays above its card, as history; below it, only the outcome.
    expect((await textAfterLastCard(page)).trim()).toBe("Deleted 1 note.");
    expect(await lastAnswer(page).locator(".text").first().textContent()).toContain(
      "I need your approval",
    );
    expect(await card.locator(".tool-result").textContent()).toContain('"deleted": 1');
    await shots.take(page, "approved and deleted");
    expect(pageErrors).toEqual([]);
  });

  it("keeps the newest message in view at 1280x800 (an approval card's buttons too), and the reader's place when they scrolled up", async () => {
    const shots = await screenshots("ai-agent scroll to the approval");
    const wide = await newPage(ada, "ada-wide");
    await wide.setViewportSize({ width: 1280, height: 800 });
    await wide.goto(server.url);
    await newConversation(wide);
    // A few turns, enough to fill the list.
    for (const prompt of [
      "what is 2 + 3",
      "save a note: cats",
      "what is 6 * 7",
      "save a note: dogs",
    ]) {
      const answers = await wide.locator("li.message.assistant").count();
      await send(wide, prompt);
      // This prompt's answer, not the previous one, has ended.
      await wide.locator("li.message.assistant").nth(answers).waitFor();
      await lastAnswer(wide).and(wide.locator('[data-status="complete"]')).waitFor();
    }
    expect((await listScroll(wide)).overflows).toBe(true);

    await send(wide, "delete the note about dogs");
    const approve = '.tool-card[data-tool="deleteNote"] .approval button.primary';
    await wide.locator(approve).waitFor();
    // The whole card, buttons included, comes into the visible part of the list: not under
    // the composer, without the person scrolling.
    await expect
      .poll(async () => (await visibleInList(wide, approve)).inside, { timeout: 5_000 })
      .toBe(true);
    expect((await listScroll(wide)).fromBottom).toBeLessThanOrEqual(2);
    await shots.take(wide, "approval card in view");
    await wide.locator(approve).click();
    await lastAnswer(wide).and(wide.locator('[data-status="complete"]')).waitFor();
    await expect.poll(async () => (await listScroll(wide)).fromBottom).toBeLessThanOrEqual(2);
    await shots.take(wide, "approved, outcome in view");

    // A long answer: the list follows it while the reader is at the bottom...
    await send(wide, "count to 300");
    await waitFor(async () => (await answerText(wide)).startsWith("1 2 3 4 "), {
      timeout: UI_TIMEOUT,
      what: "the answer to start streaming",
    });
    const lines = async () => (await lastAnswer(wide).locator(".text").boundingBox())?.height ?? 0;
    let height = await lines();
    await waitFor(async () => (await lines()) > height, {
      timeout: UI_TIMEOUT,
      what: "the answer to grow by a line",
    });
    expect((await listScroll(wide)).fromBottom).toBeLessThanOrEqual(2);
    // ...and stays where the reader put it once they scrolled up.
    await wide.locator(".messages").evaluate((el) => {
      el.scrollTop = 0;
    });
    height = await lines();
    await waitFor(async () => (await lines()) > height, {
      timeout: UI_TIMEOUT,
      what: "the answer to grow by a line",
    });
    expect((await listScroll(wide)).top).toBe(0);
    await shots.take(wide, "scrolled up while streaming");
    // Back at the bottom, it follows again.
    await wide.locator(".messages").evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    height = await lines();
    await waitFor(async () => (await lines()) > height, {
      timeout: UI_TIMEOUT,
      what: "the answer to grow by a line",
    });
    expect((await listScroll(wide)).fromBottom).toBeLessThanOrEqual(2);
    await wide.getByRole("button", { name: "Stop" }).click();
    await lastAnswer(wide).locator(".status-badge", { hasText: "stopped" }).waitFor();
    await wide.close();
    expect(pageErrors).toEqual([]);
  });

  it("delivers a reminder into the conversation while no page is open", async () => {
    const shots = await screenshots("ai-agent reminder");
    await send(page, "remind me in 4 seconds to stretch");
    const reminderCard = page.locator('.tool-card[data-tool="remindMe"].done');
    await reminderCard.waitFor();
    await lastAnswer(page).and(page.locator('[data-status="complete"]')).waitFor();
    // Said as a person says it, not as the tool's UTC timestamp.
    expect((await textAfterLastCard(page)).trim()).toBe(
      "I will remind you in 4 seconds to stretch.",
    );
    expect(await answerText(page)).not.toMatch(/\d{4}-\d\d-\d\dT/);
    // The card gives the clock time in the browser's own time zone.
    const due = reminderCard.locator("time");
    expect(await due.getAttribute("datetime")).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    const shown = await due.evaluate((el) =>
      new Date(el.getAttribute("datetime") ?? "").toLocaleTimeString([], { timeStyle: "medium" }),
    );
    expect(await due.textContent()).toContain(shown);
    await shots.take(page, "reminder set");
    const url = page.url();
    const conversationId = decodeURIComponent(url.split("/c/")[1]!);
    await page.close();

    // Delivered with no page open: the agent's alarm wrote it (SQL has it through the outbox).
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      await waitFor(
        async () =>
          (
            await db.query(
              "select 1 from messages where conversation_id = $1 and role = 'reminder' and text = 'Reminder: stretch'",
              [conversationId],
            )
          ).rowCount === 1,
        { timeout: 30_000, what: "the reminder to be delivered" },
      );
    } finally {
      await db.end();
    }

    page = await newPage(ada, "ada-back");
    await page.goto(url);
    await page.locator("li.message.reminder").filter({ hasText: "Reminder: stretch" }).waitFor();
    await shots.take(page, "reminder arrived");
    expect(pageErrors).toEqual([]);
  });

  it("shows Reconnecting… while the server is down and marks the answer interrupted", async () => {
    const shots = await screenshots("ai-agent server restart");
    await newConversation(page);
    await send(page, "count to 300");
    await waitFor(async () => (await answerText(page)).startsWith("1 2 3 4 5 "), {
      timeout: UI_TIMEOUT,
      what: "the answer to stream",
    });
    await server.stop("SIGKILL");
    await page.getByText("Reconnecting…").waitFor();
    await shots.take(page, "reconnecting");
    await server.start();
    await lastAnswer(page)
      .locator(".status-badge", { hasText: "interrupted" })
      .waitFor({ timeout: RECONNECT_TIMEOUT });
    await page.getByText("Reconnecting…").waitFor({ state: "hidden", timeout: RECONNECT_TIMEOUT });
    // Whatever was saved before the crash is a prefix of the answer, never a broken one.
    expect(counting(300).startsWith((await answerText(page)).trimEnd())).toBe(true);
    // The conversation goes on.
    await send(page, "what is 6 * 7");
    await lastAnswer(page).and(page.locator('[data-status="complete"]')).waitFor();
    expect(await answerText(page)).toContain("42");
    await shots.take(page, "interrupted, then usable");
    expect(pageErrors).toEqual([]);
  });

  it("fits a phone: the list, then a conversation", async () => {
    const shots = await screenshots("ai-agent phone");
    const phone = await newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    const p = await newPage(phone, "ada-phone");
    await p.goto(server.url);
    await p.getByRole("tab", { name: "Create a workspace" }).click();
    await p.getByRole("button", { name: "Create workspace" }).click();
    await formAlert(p).filter({ hasText: "Name your workspace." }).waitFor({ timeout: 5_000 });
    await p.getByText("At least 8 characters.").waitFor();
    await shots.take(p, "create a workspace, empty form explained");
    await p.getByRole("tab", { name: "Sign in" }).click();
    await p.getByLabel("Workspace").fill("");
    await p.getByRole("button", { name: "Sign in" }).click();
    await formAlert(p).filter({ hasText: "Enter your workspace." }).waitFor({ timeout: 5_000 });
    await p.getByLabel("Workspace").fill(ORG);
    await p.getByLabel("Username or email").fill(LOGIN);
    await p.getByLabel("Password").fill(PASSWORD);
    await shots.take(p, "sign in");
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.locator(".conversation-list").getByText("count to 300").first().waitFor();
    await shots.take(p, "conversation list");
    await p.locator(".conversation-list a").filter({ hasText: "count to 300" }).last().click();
    await p.locator("li.message.assistant").first().waitFor();
    await p.getByLabel("Prompt").waitFor();
    const overflow = await p.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await shots.take(p, "conversation");
    // The conversation with the approved delete and the reminder: its end in view.
    await p.getByRole("button", { name: "☰ Conversations" }).click();
    await p
      .locator(".conversation-list a")
      .filter({ hasText: "fail after 3 words" })
      .last()
      .click();
    await p.locator("li.message.reminder").waitFor();
    await expect.poll(async () => (await listScroll(p)).fromBottom).toBeLessThanOrEqual(2);
    await shots.take(p, "approved delete and reminder");
    expect(pageErrors).toEqual([]);
  });

  it("lets Grace join by invite link, with her own empty list, no way into Ada's conversation, and a session ended elsewhere explained", async () => {
    const shots = await screenshots("ai-agent invite");
    const adasConversation = page.url();
    await page.getByRole("button", { name: "Invite someone" }).click();
    const link = await page.locator(".invite input").inputValue();
    expect(link).toMatch(new RegExp(`^${server.url}/join/[A-Za-z0-9_-]+$`));

    const grace = await newPage(await newContext(), "grace");
    await grace.goto(link);
    await grace.getByText(`Join ${ORG_NAME}`).waitFor();
    await grace.getByLabel("Your name").fill("Grace");
    await grace.getByLabel("Username or email").fill("grace");
    await grace.getByLabel("Password").fill(PASSWORD);
    await shots.take(grace, "join by invite");
    await grace.getByRole("button", { name: "Join" }).click();
    await grace.getByText("No conversations yet").waitFor();
    await shots.take(grace, "her own empty list");

    await grace.goto(adasConversation);
    await grace
      .getByText("This conversation cannot be opened: it does not exist, or it is not yours")
      .waitFor();
    expect(await grace.locator("li.message").count()).toBe(0);
    await shots.take(grace, "not her conversation");

    // Her session ended elsewhere (signed out from another device): the open page's connections
    // are closed with the reason, and it returns to the sign-in screen saying why.
    await grace.goto(server.url);
    await grace.getByText("No conversations yet").waitFor();
    const token = await grace.evaluate(
      () =>
        (JSON.parse(localStorage.getItem("troupe-ai-agent:session") ?? "{}") as { token?: string })
          .token,
    );
    const res = await fetch(`${server.url}/api/auth/sign-out`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ everywhere: false }),
    });
    expect(res.status).toBe(200);
    await grace.getByText("You were signed out (this session was ended)").waitFor();
    await shots.take(grace, "signed out elsewhere");
    expect(pageErrors).toEqual([]);
  });
});
