// The chat's built frontend in headless Chromium against the production server: Ada creates an
// organisation, Grace joins through its invite link, they create a room, chat live, see each
// other's presence and typing; the server is killed and restarted (the reconnect banner comes
// and goes, nothing is lost); a forged token in the stored session is refused and a wrong
// password is explained; a removed member's session ends with the reason; the room list and room
// fit a phone. Every step is a screenshot in e2e/artifacts/<test>/.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { waitFor } from "troupe/test";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, type Screenshots, screenshots } from "./support/browser.js";
import { type ChatFixture, E2E_PASSWORD, useChatServer } from "./support/chat-fixture.js";
import { claimsOf, expiredToken, forgedToken } from "./support/tokens.js";

const ORG = "acme";
/** How long the UI may take to show something that arrives over the network. */
const UI_TIMEOUT = 15_000;
/** How long a restarted server and the pages' reconnects may take. */
const RECONNECT_TIMEOUT = 60_000;

const chat = useChatServer();
/** A second server whose tokens last seconds, to see pages live through their expiry. */
const SHORT_TTL_SECONDS = 8;
const shortLived = useChatServer({ env: { AUTH_TOKEN_TTL_SECONDS: String(SHORT_TTL_SECONDS) } });
let browser: Browser;
const contexts: BrowserContext[] = [];
/** Uncaught exceptions and console output of every page, printed when a test fails. */
const pageLog: string[] = [];
const pageErrors: string[] = [];

// Installing Chromium with apt-get when it is missing takes a few minutes, once.
beforeAll(async () => {
  browser = await launchChromium();
}, 600_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === "fail") {
    console.error(`--- browser console (${ctx.task.name}) ---\n${pageLog.join("\n")}\n---`);
  }
});

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
});

async function newPage(
  who: string,
  options: Parameters<Browser["newContext"]>[0] = {},
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, ...options });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  page.on("pageerror", (err) => {
    pageErrors.push(`[${who}] ${err.message}`);
    pageLog.push(`[${who} pageerror] ${err.stack ?? err.message}`);
  });
  page.on("console", (msg) => pageLog.push(`[${who} ${msg.type()}] ${msg.text()}`));
  return page;
}

/** Invite links of the organisations created through the UI in this file, by server and slug. */
const inviteLinks = new Map<string, string>();
let accountSeq = 0;

/**
 * A new person in `org` through the UI: the first creates the organisation (and reads its
 * invite link from the sidebar), the next ones open that link and join. Returns the username.
 */
async function signIn(
  page: Page,
  name: string,
  org = ORG,
  shots?: Screenshots,
  fixture: ChatFixture = chat,
): Promise<string> {
  const login = `${name.toLowerCase()}-${++accountSeq}`;
  const link = inviteLinks.get(`${fixture.server.url} ${org}`);
  if (!link) {
    await page.goto(fixture.server.url);
    await page.getByTestId("mode-create").click();
    await page.getByTestId("create-org-name").fill(org);
    await page.getByTestId("create-name").fill(name);
    await page.getByTestId("create-login").fill(login);
    await page.getByTestId("create-password").fill(E2E_PASSWORD);
    if (shots) await shots.take(page, `${name} creates ${org}`);
    await page.getByTestId("create-submit").click();
    await page.getByTestId("current-user").filter({ hasText: name }).waitFor();
    await page.getByTestId("invite-toggle").click();
    const value = await page.getByTestId("invite-link").inputValue();
    expect(value).toMatch(new RegExp(`^${fixture.server.url}/join/[A-Za-z0-9_-]{32}$`));
    inviteLinks.set(`${fixture.server.url} ${org}`, value);
    if (shots) await shots.take(page, `${name} sees the invite link`);
    await page.getByTestId("invite-toggle").click();
    return login;
  }
  await page.goto(link);
  await page.getByTestId("join-org").filter({ hasText: org }).waitFor();
  await page.getByTestId("join-name").fill(name);
  await page.getByTestId("join-login").fill(login);
  await page.getByTestId("join-password").fill(E2E_PASSWORD);
  if (shots) await shots.take(page, `${name} joins ${org} by the invite link`);
  await page.getByTestId("join-submit").click();
  await page.getByTestId("current-user").filter({ hasText: name }).waitFor();
  // Joining leads to the chat's own address, not the invite link.
  expect(new URL(page.url()).pathname).toBe("/");
  return login;
}

/** A returning person through the sign-in form. */
async function signInAgain(page: Page, org: string, login: string, password: string) {
  await page.getByTestId("mode-sign-in").click();
  await page.getByTestId("signin-org").fill(org);
  await page.getByTestId("signin-login").fill(login);
  await page.getByTestId("signin-password").fill(password);
  await page.getByTestId("signin-submit").click();
}

function roomItem(page: Page, name: string) {
  return page.locator(`[data-testid="room-item"][data-room-name="${name}"]`);
}

/** Opens a room from the list and waits for its title. */
async function openRoom(page: Page, name: string): Promise<void> {
  await roomItem(page, name).click();
  await page.getByTestId("room-title").filter({ hasText: name }).waitFor();
}

async function createRoom(page: Page, name: string): Promise<void> {
  await page.getByTestId("new-room-name").fill(name);
  await page.getByTestId("create-room").click();
  // Creating a room opens it.
  await page.getByTestId("room-title").filter({ hasText: name }).waitFor();
}

function message(page: Page, text: string) {
  return page.getByTestId("message").filter({
    has: page.getByTestId("message-text").filter({ hasText: text }),
  });
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("send").click();
  await message(page, text).waitFor();
}

async function messageTexts(page: Page): Promise<string[]> {
  return (await page.getByTestId("message-text").allTextContents()).map((t) => t.trim());
}

async function presenceNames(page: Page): Promise<string[]> {
  const names = await page.getByTestId("presence-user").allTextContents();
  return names.map((n) => n.trim());
}

describe("chat in two browsers", () => {
  let ada: Page;
  let grace: Page;
  let shots: Screenshots;
  const room = "launch-plans";
  const sent: string[] = [];

  it("two people sign in, create a room, chat live, and see presence and typing", async () => {
    shots = await screenshots("chat in two browsers");
    ada = await newPage("Ada");
    grace = await newPage("Grace");

    await ada.goto(chat.server.url);
    await ada.getByTestId("create-org-name").waitFor();
    await shots.take(ada, "ada sign-in screen");
    await signIn(ada, "Ada", ORG, shots);
    await signIn(grace, "Grace", ORG, shots);
    await ada.getByTestId("rooms-empty").waitFor();
    await shots.take(grace, "grace signed in, no rooms");

    await createRoom(ada, room);
    await shots.take(ada, "ada created the room");
    // Grace's list updates live, without a reload.
    await roomItem(grace, room).waitFor();
    await shots.take(grace, "grace sees the new room");
    await openRoom(grace, room);

    // Each sees the other online.
    await waitFor(async () => (await presenceNames(ada)).some((n) => n.includes("Grace")), {
      what: "Grace in Ada's presence list",
    });
    await waitFor(async () => (await presenceNames(grace)).some((n) => n.includes("Ada")), {
      what: "Ada in Grace's presence list",
    });

    sent.push("Hi Grace, shall we plan the launch here?");
    await send(ada, sent[0]!);
    await message(grace, sent[0]!).waitFor();
    expect(await message(grace, sent[0]!).getAttribute("data-author")).toContain("Ada");
    sent.push("Yes! I will draft the checklist.");
    await send(grace, sent[1]!);
    await message(ada, sent[1]!).waitFor();
    await shots.take(ada, "ada sees grace's reply");

    // Grace types without sending: Ada sees the indicator; it goes away when Grace sends.
    await grace.getByTestId("composer").pressSequentially("Drafting it now", { delay: 20 });
    await ada.getByTestId("typing-indicator").filter({ hasText: "Grace" }).waitFor();
    await expect(grace.getByTestId("typing-indicator").count()).resolves.toBe(0);
    await shots.take(ada, "ada sees grace typing");
    await grace.getByTestId("send").click();
    sent.push("Drafting it now");
    await message(ada, sent[2]!).waitFor();
    await ada.getByTestId("typing-indicator").waitFor({ state: "detached" });
    await shots.take(grace, "grace after sending");

    expect(await messageTexts(ada)).toEqual(sent);
    expect(await messageTexts(grace)).toEqual(sent);
    expect(pageErrors).toEqual([]);
  });

  it("a server restart shows the reconnect banner, then recovers without losing messages", {
    timeout: 180_000,
  }, async () => {
    expect(sent, "needs the room of the previous test").toHaveLength(3);
    shots = await screenshots("server restart");
    await chat.server.stop("SIGKILL");
    for (const page of [ada, grace]) {
      await page.getByTestId("connection-banner").filter({ hasText: "Reconnecting" }).waitFor();
    }
    await shots.take(ada, "server down, ada sees the banner");
    await shots.take(grace, "server down, grace sees the banner");
    // What was on screen stays on screen while the server is away.
    expect(await messageTexts(ada)).toEqual(sent);

    await chat.server.start();
    for (const page of [ada, grace]) {
      await page
        .getByTestId("connection-banner")
        .waitFor({ state: "detached", timeout: RECONNECT_TIMEOUT });
    }
    await shots.take(ada, "server back, banner gone");
    expect(await messageTexts(ada)).toEqual(sent);
    expect(await messageTexts(grace)).toEqual(sent);

    // Live again both ways, and presence is back.
    sent.push("Back online after the restart");
    await send(grace, sent[3]!);
    await message(ada, sent[3]!).waitFor();
    sent.push("Nothing was lost");
    await send(ada, sent[4]!);
    await message(grace, sent[4]!).waitFor();
    await waitFor(async () => (await presenceNames(ada)).some((n) => n.includes("Grace")), {
      what: "Grace in Ada's presence list after the restart",
    });
    await shots.take(ada, "ada after the restart");

    // A reload reads everything back from the server.
    await grace.reload();
    await grace.getByTestId("current-user").filter({ hasText: "Grace" }).waitFor();
    if (!(await grace.getByTestId("room-title").isVisible())) await openRoom(grace, room);
    await message(grace, sent[4]!).waitFor();
    expect(await messageTexts(grace)).toEqual(sent);
    await shots.take(grace, "grace after a reload");
    expect(pageErrors).toEqual([]);
  });

  it("edits and deletes reach the other person live; search finds a message and opens it", async () => {
    expect(sent, "needs the room of the previous tests").toHaveLength(5);
    shots = await screenshots("edit delete search");
    const own = message(ada, sent[4]!);
    const editedId = await own.getAttribute("data-message-id");
    await own.hover();
    await own.getByTestId("edit-message").click();
    await ada.getByTestId("edit-input").fill("Nothing was lost, not one message");
    await shots.take(ada, "ada edits her message");
    await ada.getByTestId("edit-save").click();
    const onGrace = grace.locator(`[data-testid="message"][data-message-id="${editedId}"]`);
    await onGrace.getByTestId("message-text").filter({ hasText: "not one message" }).waitFor();
    // Only the author gets edit and delete buttons.
    expect(await message(grace, sent[0]!).getByTestId("edit-message").count()).toBe(0);

    const doomed = message(ada, sent[0]!);
    const deletedId = await doomed.getAttribute("data-message-id");
    await doomed.hover();
    await doomed.getByTestId("delete-message").click();
    await grace
      .locator(`[data-testid="message"][data-message-id="${deletedId}"]`)
      .waitFor({ state: "detached" });
    await shots.take(grace, "grace sees the edit and the deletion");

    // Search reads SQL, which the room fills in the background: retry until it is there.
    await waitFor(
      async () => {
        await grace.getByTestId("search-input").fill("checklist");
        await grace.getByTestId("search-submit").click();
        await grace.getByTestId("search-result").or(grace.getByTestId("search-empty")).waitFor();
        return (await grace.getByTestId("search-result").count()) > 0;
      },
      { timeout: 15_000, interval: 500, what: "a search result for 'checklist'" },
    );
    const results = grace.getByTestId("search-result");
    expect(await results.count()).toBe(1);
    expect(await results.first().textContent()).toContain("checklist");
    await shots.take(grace, "grace searched for checklist");
    await results.first().click();
    await grace.getByTestId("room-title").filter({ hasText: room }).waitFor();
    await message(grace, sent[1]!).waitFor();
    await shots.take(grace, "grace opened the search result");
    expect(pageErrors).toEqual([]);
  });
});

describe("a forged session", () => {
  it("shows the sign-in screen with an auth error; a wrong password is explained", async () => {
    const shots = await screenshots("forged session");
    const page = await newPage("Mallory");
    await page.goto(chat.server.url);
    await page.getByTestId("mode-sign-in").waitFor();
    const user = { id: "5f0c1a52-0000-4000-8000-000000000000", name: "Mallory", org: ORG };
    const session = JSON.stringify({ token: forgedToken(user), user });
    await page.evaluate((value) => localStorage.setItem("troupe-chat:session", value), session);
    await page.reload();

    await page.getByTestId("auth-error").waitFor();
    await page.getByTestId("mode-sign-in").waitFor();
    expect(await page.getByTestId("current-user").count()).toBe(0);
    expect(await page.getByTestId("room-list").count()).toBe(0);
    await shots.take(page, "forged token refused");

    // Mallory has a real account (made through the API): a wrong password first, then the right one.
    const org = "mallory-and-co";
    const mallory = await chat.signIn("Mallory", org);
    await signInAgain(page, org, mallory.login, "not-the-password");
    await page
      .getByTestId("signin-error")
      .filter({ hasText: "Wrong organisation, username or password." })
      .waitFor();
    await shots.take(page, "wrong password");
    await signInAgain(page, org, mallory.login, E2E_PASSWORD);
    await page.getByTestId("current-user").filter({ hasText: "Mallory" }).waitFor();
    await page.getByTestId("auth-error").waitFor({ state: "detached" });
    await shots.take(page, "signed in properly");
    expect(pageErrors).toEqual([]);
  });
});

describe("a removed member", () => {
  it("is shown the sign-in screen with the reason once their token needs refreshing", async () => {
    const shots = await screenshots("removed member");
    const org = "removal-test";
    const admin = await newPage("Admin");
    await signIn(admin, "Admin", org);
    const page = await newPage("Dana");
    await signIn(page, "Dana", org);
    await page.getByTestId("rooms-empty").waitFor();
    const stored = JSON.parse(
      (await page.evaluate(() => localStorage.getItem("troupe-chat:session")))!,
    ) as { token: string; user: { id: string; name: string; org: string } };
    const adminToken = JSON.parse(
      (await admin.evaluate(() => localStorage.getItem("troupe-chat:session")))!,
    ).token as string;

    const res = await fetch(`${chat.server.url}/api/org/members/${stored.user.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(res.status).toBe(200);
    // Her token runs out (made so here rather than waiting 15 minutes): the page must refresh it.
    const expired = expiredToken(stored.user, chat.server.authSecret, claimsOf(stored.token).sid);
    await page.evaluate(
      (value) => localStorage.setItem("troupe-chat:session", value),
      JSON.stringify({ ...stored, token: expired }),
    );
    await page.reload();
    await page
      .getByTestId("auth-error")
      .filter({ hasText: "You were removed from this organisation." })
      .waitFor();
    expect(await page.getByTestId("current-user").count()).toBe(0);
    await shots.take(page, "removed member sees why");
    expect(pageErrors).toEqual([]);
  });
});

describe("tokens that expire while the page is open", () => {
  it("a signed-in page keeps working across expiries; once signed out everywhere it shows why", {
    timeout: 180_000,
  }, async () => {
    const shots = await screenshots("token expiry");
    const page = await newPage("Rosalind");
    await signIn(page, "Rosalind", "short-lived", shots, shortLived);
    await createRoom(page, "lab");
    const session = () =>
      page.evaluate(
        () => JSON.parse(localStorage.getItem("troupe-chat:session")!) as { token: string },
      );
    const first = (await session()).token;

    // The server closes the connections at the token's expiry; the page refreshes and is back.
    await waitFor(async () => (await session()).token !== first, {
      timeout: 60_000,
      what: "the page to refresh its token",
    });
    await send(page, "Still here after my token expired.");
    await page.getByTestId("connection-banner").waitFor({ state: "detached" });
    await shots.take(page, "after a token expiry");

    // Signed out everywhere (another device, say): at the next expiry the page cannot refresh.
    const res = await shortLived.post(
      "/api/auth/sign-out",
      { everywhere: true },
      (await session()).token,
    );
    expect(res.status).toBe(200);
    await page
      .getByTestId("auth-error")
      .filter({ hasText: "You were signed out" })
      .waitFor({ timeout: 60_000 });
    expect(await page.getByTestId("current-user").count()).toBe(0);
    await shots.take(page, "signed out everywhere, the page says why");
    expect(pageErrors).toEqual([]);
  });
});

describe("on a phone", () => {
  it("the room list and the room fit a 375 px wide screen", async () => {
    const shots = await screenshots("phone");
    const page = await newPage("Katherine", {
      viewport: { width: 375, height: 812 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await signIn(page, "Katherine", "nasa", shots);
    const room = "mission-control";
    await createRoom(page, room);
    // On a phone the room takes the whole screen; its back link leads to the list.
    await page.getByRole("link", { name: "Back to rooms" }).click();
    await roomItem(page, room).waitFor();
    await expectNoHorizontalScroll(page);
    await shots.take(page, "phone room list");

    await openRoom(page, room);
    await send(page, "Trajectory numbers are ready for review.");
    await send(page, "Launch window opens at 09:32.");
    await page.getByTestId("composer").waitFor();
    await expectNoHorizontalScroll(page);
    await shots.take(page, "phone room view");
    expect(pageErrors).toEqual([]);
  });
});

async function expectNoHorizontalScroll(page: Page): Promise<void> {
  const widths = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
  }));
  expect(widths.scroll, "page wider than the screen").toBeLessThanOrEqual(widths.viewport);
}
