// The chat's built frontend in headless Chromium against the production server: Ada creates an
// organisation, Grace joins through its invite link, they create a room, chat live, see each
// other's presence and typing; the server is killed and restarted (the reconnect banner comes
// and goes, presence is unknown meanwhile, nothing is lost); a message sent while the server is
// away survives a reload and is sent once, or stays "Not sent" with Retry and Discard; the
// message list's links, "Show more", "N new messages", ArrowUp editing and paste notice on a
// desktop and a phone; a forged token in the stored session is refused and a wrong
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

/**
 * Sends `text` and waits until the room has answered for it: the message in the list (its event
 * can come first, as events do not wait for the durable write) and its "Sending…" copy gone
 * (the reply, which leaves only once the message is stored; a crash before it loses the
 * message on the server, and the page sends it again).
 */
async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("send").click();
  await message(page, text).waitFor();
  await page
    .getByTestId("message-pending")
    .filter({ has: page.getByTestId("pending-text").filter({ hasText: text }) })
    .waitFor({ state: "detached" });
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
      // Who is online is not known while the connection is down: nobody is shown online.
      await page
        .locator('[data-testid="presence"][data-known="false"]')
        .waitFor({ state: "attached" });
      expect(await presenceNames(page)).toEqual([]);
      await page.getByTestId("room-sub").filter({ hasText: "online unknown" }).waitFor();
    }
    expect(await ada.getByTestId("connection-banner").textContent()).toContain(
      'wait up to 15 s for it; any not sent by then stay in the room marked "Not sent"',
    );
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
    // Both pages end connected with the right presence and member count.
    for (const page of [ada, grace]) {
      await expectLive(page, ["Ada", "Grace"], 2);
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

    // A graceful restart (SIGTERM, what `tsx watch` does in dev) ends the same way.
    await chat.server.stop("SIGTERM");
    for (const page of [ada, grace]) {
      await page.getByTestId("connection-banner").waitFor();
      await page
        .locator('[data-testid="presence"][data-known="false"]')
        .waitFor({ state: "attached" });
    }
    await chat.server.start();
    for (const page of [ada, grace]) {
      await page
        .getByTestId("connection-banner")
        .waitFor({ state: "detached", timeout: RECONNECT_TIMEOUT });
      await expectLive(page, ["Ada", "Grace"], 2);
    }
    await shots.take(grace, "after a graceful restart");

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

describe("signing out", () => {
  it("revokes the session on the server: its token is refused at once; another device stays", async () => {
    const shots = await screenshots("sign out");
    const org = "sign-out-test";
    const page = await newPage("Grace");
    const login = await signIn(page, "Grace", org);
    const phone = await newPage("Grace's phone");
    await phone.goto(chat.server.url);
    await signInAgain(phone, org, login, E2E_PASSWORD);
    await phone.getByTestId("current-user").filter({ hasText: "Grace" }).waitFor();
    const stored = JSON.parse(
      (await page.evaluate(() => localStorage.getItem("troupe-chat:session")))!,
    ) as { token: string };

    await page.getByTestId("sign-out").click();
    await page.getByTestId("mode-sign-in").waitFor();
    // A sign-out the person made is not explained as if it happened elsewhere.
    expect(await page.getByTestId("auth-error").count()).toBe(0);
    await shots.take(page, "signed out");
    await waitFor(
      async () => {
        const res = await fetch(`${chat.server.url}/api/me`, {
          headers: { authorization: `Bearer ${stored.token}` },
        });
        return res.status === 401 && ((await res.json()) as any).error.code === "session_revoked";
      },
      { what: "the signed-out token to be refused" },
    );
    // The phone's session is another one: still signed in, and its room list still live.
    await createRoom(phone, "still here");
    await shots.take(phone, "the phone is still signed in");
    expect(pageErrors).toEqual([]);
  });
});

describe("a removed member", () => {
  it("is shown the sign-in screen with the reason at once, and again when their token is refreshed", async () => {
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
    // The server closes her connections at once with the reason: the page says why.
    await page
      .getByTestId("auth-error")
      .filter({ hasText: "You were removed from this organisation." })
      .waitFor();
    expect(await page.getByTestId("current-user").count()).toBe(0);
    await shots.take(page, "removed member is signed out at once");
    // A copy of her session with a token that ran out (as a tab asleep since before the removal
    // would hold): the page must refresh it, which is refused with the same reason.
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

    // Signed out everywhere (another device, say): the server closes the page's connections at
    // once with the reason, and the page shows it.
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

describe("a message sent while the server is away", () => {
  it("is never lost: a reload sends it once; one not sent in 15 s stays Not sent with Retry and Discard", {
    timeout: 240_000,
  }, async () => {
    const shots = await screenshots("unsent messages");
    const page = await newPage("Lin");
    // Holds the page's WebSockets (not its HTTP) while `blocked`: the page keeps trying to connect.
    let blocked = false;
    await page.routeWebSocket(/\/api\/troupe/, (ws) => {
      if (!blocked) ws.connectToServer();
    });
    await signIn(page, "Lin", "relay-org", shots);
    await createRoom(page, "relay");
    await send(page, "before the outage");
    const pendingStored = () =>
      page.evaluate(() =>
        Object.keys(sessionStorage)
          .filter((k) => k.startsWith("troupe-chat:pending:"))
          .flatMap(
            (k) => JSON.parse(sessionStorage.getItem(k)!) as { text: string; status: string }[],
          ),
      );

    // The server goes away; when it is back, the page still cannot get through.
    blocked = true;
    await chat.server.stop("SIGKILL");
    await page.getByTestId("connection-banner").waitFor();
    await chat.server.start();
    await page.getByTestId("composer").fill("sent during the outage");
    await page.getByTestId("send").click();
    await page.locator('[data-testid="message-pending"][data-status="sending"]').waitFor();
    expect(await pendingStored()).toMatchObject([
      { text: "sent during the outage", status: "sending" },
    ]);
    await shots.take(page, "sending while the server is away");

    // The page is reloaded (as Vite does in dev when the server is back): the message goes out, once.
    blocked = false;
    await page.reload();
    await message(page, "sent during the outage").waitFor({ timeout: RECONNECT_TIMEOUT });
    await page.getByTestId("message-pending").waitFor({ state: "detached" });
    expect(await messageTexts(page)).toEqual(["before the outage", "sent during the outage"]);
    await waitFor(async () => (await pendingStored()).length === 0, { what: "an empty queue" });
    await shots.take(page, "sent once after the reload");

    // Down for longer than 15 s: the send is given up, visibly, with its text.
    blocked = true;
    await chat.server.stop("SIGKILL");
    await page.getByTestId("connection-banner").waitFor();
    await chat.server.start();
    for (const text of ["retry me", "discard me"]) {
      await page.getByTestId("composer").fill(text);
      await page.getByTestId("send").click();
    }
    const failed = page.locator('[data-testid="message-pending"][data-status="failed"]');
    await waitFor(async () => (await failed.count()) === 2, {
      timeout: 60_000,
      what: "both messages marked Not sent",
    });
    expect(await failed.first().textContent()).toContain("Not sent: no connection for 15 s.");
    expect(await page.getByTestId("composer").inputValue()).toBe("");
    await shots.take(page, "not sent after 15 s");

    // A reload keeps them as they were: Not sent, text kept.
    blocked = false;
    await page.reload();
    await page.getByTestId("room-title").filter({ hasText: "relay" }).waitFor();
    await waitFor(async () => (await failed.count()) === 2, { what: "Not sent after the reload" });
    expect(await page.getByTestId("pending-text").allTextContents()).toEqual([
      "retry me",
      "discard me",
    ]);
    await message(page, "sent during the outage").waitFor();
    await page.getByTestId("connection-banner").waitFor({ state: "detached" });
    await shots.take(page, "still not sent after a reload");
    await failed.filter({ hasText: "retry me" }).getByTestId("pending-retry").click();
    await message(page, "retry me").waitFor();
    await failed.filter({ hasText: "discard me" }).getByTestId("pending-discard").click();
    await page.getByTestId("message-pending").waitFor({ state: "detached" });
    expect(await messageTexts(page)).toEqual([
      "before the outage",
      "sent during the outage",
      "retry me",
    ]);
    await waitFor(async () => (await pendingStored()).length === 0, { what: "an empty queue" });
    await page.reload();
    await message(page, "retry me").waitFor();
    expect(await page.getByTestId("message-pending").count()).toBe(0);
    await shots.take(page, "retried and discarded");

    // Restored after a reload: one the room refuses keeps its text, marked Not sent with the
    // reason; one older than 2 minutes is not resent by itself.
    await page.evaluate(() => {
      const session = JSON.parse(localStorage.getItem("troupe-chat:session")!);
      const roomId = location.pathname.split("/").pop();
      const key = `troupe-chat:pending:${JSON.stringify([session.user.org, roomId, session.user.id])}`;
      const now = Date.now();
      sessionStorage.setItem(
        key,
        JSON.stringify([
          { clientId: "c-e2e-refused", text: "x".repeat(4001), createdAt: now, status: "sending" },
          {
            clientId: "c-e2e-old",
            text: "from long ago",
            createdAt: now - 600_000,
            status: "sending",
          },
        ]),
      );
    });
    await page.reload();
    await page.getByTestId("room-title").filter({ hasText: "relay" }).waitFor();
    await failed.filter({ hasText: "at most 4000 characters" }).waitFor();
    await failed.filter({ hasText: "Not sent before the page was reloaded." }).waitFor();
    expect(await failed.count()).toBe(2);
    expect((await page.getByTestId("pending-text").first().textContent())?.length).toBe(4001);
    await shots.take(page, "restored: refused and too old");
    for (let i = 0; i < 2; i++) await failed.first().getByTestId("pending-discard").click();
    await page.getByTestId("message-pending").waitFor({ state: "detached" });
    expect(await messageTexts(page)).toEqual([
      "before the outage",
      "sent during the outage",
      "retry me",
    ]);
    expect(pageErrors).toEqual([]);
  });
});

describe("the message list", () => {
  for (const device of [
    { name: "desktop", viewport: { width: 1280, height: 800 } },
    {
      name: "phone",
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    },
  ] as const) {
    it(`links, show more, new messages, ArrowUp to edit, paste notice (${device.name})`, {
      timeout: 120_000,
    }, async () => {
      const shots = await screenshots(`message list ${device.name}`);
      const { name, ...options } = device;
      const page = await newPage(`Mae-${name}`, options);
      const org = `list-${name}`;
      await signIn(page, "Mae", org);
      await createRoom(page, "notes");
      if (name === "desktop") {
        // The composer has the focus when a room opens.
        expect(await page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe(
          "composer",
        );
      }
      const list = page.getByTestId("message-list");
      expect(await list.getAttribute("role")).toBe("log");
      expect(await list.getAttribute("aria-live")).toBe("polite");

      await send(page, "Spec at https://example.com/spec?v=2. <b>not bold</b>");
      const link = message(page, "Spec at").getByTestId("message-link");
      expect(await link.getAttribute("href")).toBe("https://example.com/spec?v=2");
      expect(await link.getAttribute("target")).toBe("_blank");
      expect(await link.getAttribute("rel")).toBe("noopener noreferrer");
      expect(await message(page, "Spec at").locator("b").count()).toBe(0);

      const long = `${"A long report, with many words in it. ".repeat(40)}The end.`;
      await page.getByTestId("composer").fill(long);
      await page.getByTestId("send").click();
      const longItem = message(page, "A long report");
      await longItem.getByTestId("show-more").waitFor();
      expect(await longItem.getByTestId("message-text").textContent()).not.toContain("The end.");
      await shots.take(page, "a link and a long message");
      await longItem.getByTestId("show-more").click();
      await longItem.getByTestId("message-text").filter({ hasText: "The end." }).waitFor();

      // ArrowUp in the empty composer edits my last message.
      await send(page, "typo hree");
      await page.getByTestId("composer").focus();
      await page.keyboard.press("ArrowUp");
      const edit = page.getByTestId("edit-input");
      expect(await edit.inputValue()).toBe("typo hree");
      await edit.fill("typo here");
      await shots.take(page, "editing with ArrowUp");
      await edit.press("Enter");
      await message(page, "typo here").waitFor();
      await waitFor(
        () =>
          page.evaluate(() => document.activeElement?.getAttribute("data-testid") === "composer"),
        { what: "focus back in the composer" },
      );

      // A paste cut at the length limit says so.
      await page.getByTestId("composer").focus();
      await page.evaluate((text) => {
        const el = document.querySelector<HTMLTextAreaElement>('[data-testid="composer"]')!;
        const data = new DataTransfer();
        data.setData("text/plain", text);
        el.dispatchEvent(
          new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }),
        );
      }, "p".repeat(4100));
      await page.getByTestId("paste-cut-notice").filter({ hasText: "100 characters" }).waitFor();
      expect((await page.getByTestId("composer").inputValue()).length).toBe(4000);
      await shots.take(page, "paste cut notice");
      await page.getByTestId("composer").fill("");

      // Scrolled up while someone else writes: "N new messages ↓", which jumps to them.
      // Ola joins through the link the UI showed, over the API.
      const code = inviteLinks.get(`${chat.server.url} ${org}`)!.split("/").pop();
      const joined = await chat.post("/api/auth/join", {
        code,
        displayName: "Ola",
        login: `ola-${name}`,
        password: E2E_PASSWORD,
      });
      expect(joined.status).toBe(201);
      const other = joined.body as { token: string };
      const roomId = new URL(page.url()).pathname.split("/").pop()!;
      const conn = chat
        .client()
        .chatRoom.get([org, roomId], { params: { token: other.token } })
        .connect();
      try {
        for (let i = 0; i < 12; i++) await conn.send(`filler ${i} ${"words ".repeat(20)}`);
        await message(page, "filler 11").waitFor();
        // Scroll events are delivered with the next frame: wait for it, or a message that
        // arrives first still finds the list "at the bottom" and follows it down.
        await list.evaluate(
          (el) =>
            new Promise<void>((resolve, reject) => {
              if (el.scrollTop === 0)
                reject(new Error("the list does not overflow: nothing to scroll"));
              el.addEventListener("scroll", () => requestAnimationFrame(() => resolve()), {
                once: true,
              });
              el.scrollTop = 0;
            }),
        );
        await conn.send("are you there?");
        await conn.send("hello?");
        const jump = page.getByTestId("jump-latest");
        await jump.filter({ hasText: "2 new messages" }).waitFor();
        await shots.take(page, "new messages while scrolled up");
        await jump.click();
        await jump.waitFor({ state: "detached" });
        await waitFor(
          () => list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 80),
          { what: "the list at the bottom" },
        );
        await shots.take(page, "jumped to the latest");
      } finally {
        await conn.dispose();
      }
      await expectNoHorizontalScroll(page);
      expect(pageErrors).toEqual([]);
    });
  }
});

/** The room is live: no banner, presence known with exactly `names`, and the member count. */
async function expectLive(page: Page, names: string[], members: number): Promise<void> {
  await page.getByTestId("connection-banner").waitFor({ state: "detached" });
  await page.locator('[data-testid="presence"][data-known="true"]').waitFor({ state: "attached" });
  await waitFor(
    async () => {
      const shown = (await presenceNames(page)).map((n) => n.replace(/\s*\(you\)$/, ""));
      return shown.length === names.length && names.every((n) => shown.some((s) => s.includes(n)));
    },
    { what: `presence ${names.join(", ")}` },
  );
  await page
    .getByTestId("room-sub")
    .filter({ hasText: `${members} members · ${names.length} online` })
    .waitFor();
}

async function expectNoHorizontalScroll(page: Page): Promise<void> {
  const widths = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
  }));
  expect(widths.scroll, "page wider than the screen").toBeLessThanOrEqual(widths.viewport);
}
