// Managing rooms in the built frontend, in headless Chromium against the production server:
// unread counts per room (live, capped, cleared on reading, shared by a person's devices) and
// the total in the page title; duplicate names refused in words; rename, leave and delete from
// the room's menu, seen live by the others; the same screens on a phone. Every step is a
// screenshot in e2e/artifacts/<test>/.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { waitFor } from "troupe/test";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, screenshots } from "./support/browser.js";
import { type SignedIn, useChatServer } from "./support/chat-fixture.js";

const ORG = "rooms-co";
const UI_TIMEOUT = 15_000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

const chat = useChatServer();
let browser: Browser;
const contexts: BrowserContext[] = [];
const pageLog: string[] = [];
const pageErrors: string[] = [];

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

/**
 * A page signed in as `who` (signed in over HTTP, the session put where the app keeps it: the
 * sign-in screens have their own tests in chat-browser.test.ts).
 */
async function pageFor(who: SignedIn, viewport = DESKTOP, phone = false): Promise<Page> {
  const context = await browser.newContext({
    viewport,
    ...(phone ? { deviceScaleFactor: 2, isMobile: true, hasTouch: true } : {}),
  });
  contexts.push(context);
  const session = JSON.stringify({ token: who.token, user: who.user, role: who.role });
  await context.addInitScript((s) => {
    if (!localStorage.getItem("troupe-chat:session"))
      localStorage.setItem("troupe-chat:session", s);
  }, session);
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  const name = `${who.user.name}${phone ? " (phone)" : ""}`;
  page.on("pageerror", (err) => {
    pageErrors.push(`[${name}] ${err.message}`);
    pageLog.push(`[${name} pageerror] ${err.stack ?? err.message}`);
  });
  page.on("console", (msg) => pageLog.push(`[${name} ${msg.type()}] ${msg.text()}`));
  await page.goto(chat.server.url);
  await page.getByTestId("current-user").filter({ hasText: who.user.name }).waitFor();
  return page;
}

function roomItem(page: Page, name: string) {
  return page.locator(`[data-testid="room-item"][data-room-name="${name}"]`);
}

async function unreadOf(page: Page, name: string): Promise<string> {
  // One read in the page: counting the badge and then reading it would race with its removal
  // (the read then waits for a badge that is gone).
  const text = await roomItem(page, name).evaluate(
    (item) => item.querySelector('[data-testid="unread-count"]')?.textContent ?? "",
  );
  return text.replace(/\s*unread messages?$/, "").trim();
}

async function createRoom(page: Page, name: string): Promise<void> {
  await page.getByTestId("new-room-name").fill(name);
  await page.getByTestId("create-room").click();
  await page.getByTestId("room-title").filter({ hasText: name }).waitFor();
}

async function openRoom(page: Page, name: string): Promise<void> {
  await roomItem(page, name).click();
  await page.getByTestId("room-title").filter({ hasText: name }).waitFor();
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("send").click();
  await page.getByTestId("message-text").filter({ hasText: text }).waitFor();
}

describe("rooms: unread counts, names, rename, leave, delete", () => {
  it("desktop: counts live and across devices, title total, room menu for creator and admin", async () => {
    const shots = await screenshots("rooms desktop");
    const adaAccount = await chat.signIn("Ada", ORG); // the organisation's admin
    const boAccount = await chat.signIn("Bo", ORG);
    const ada = await pageFor(adaAccount);
    const bo = await pageFor(boAccount);

    await createRoom(ada, "general");
    await createRoom(ada, "random");
    await roomItem(bo, "general").waitFor();
    await openRoom(bo, "random");

    // Messages in a room Bo never opened: a number, live, and the total in the title.
    await openRoom(ada, "general");
    for (const text of ["Morning all", "Stand-up in 5", "Notes are in the doc"]) {
      await send(ada, text);
    }
    await waitFor(async () => (await unreadOf(bo, "general")) === "3", {
      what: "3 unread in general for Bo",
    });
    await waitFor(async () => (await bo.title()) === "(3) Troupe chat", { what: "title (3)" });
    // Own messages never count: Ada sees none.
    expect(await unreadOf(ada, "general")).toBe("");
    expect(await unreadOf(ada, "random")).toBe("");
    expect(await ada.title()).toBe("Troupe chat");
    await shots.take(bo, "bo sees 3 unread in general while in random");

    // Bo's second device sees the same count; reading on one clears it on the other.
    const boLaptop = await pageFor(boAccount);
    await waitFor(async () => (await unreadOf(boLaptop, "general")) === "3", {
      what: "3 unread on Bo's other device",
    });
    await openRoom(bo, "general");
    await waitFor(async () => (await unreadOf(boLaptop, "general")) === "", {
      what: "cleared on Bo's other device",
    });
    await waitFor(async () => (await boLaptop.title()) === "Troupe chat", { what: "title" });
    await shots.take(boLaptop, "bo's other device, cleared after reading");
    // Kept across a reload.
    await boLaptop.reload();
    await boLaptop.locator('[data-testid="room-list"][data-unread-ready="true"]').waitFor();
    await roomItem(boLaptop, "general").waitFor();
    expect(await unreadOf(boLaptop, "general")).toBe("");

    // A duplicate name is refused, in words.
    await ada.getByTestId("new-room-name").fill("  GENERAL ");
    await ada.getByTestId("create-room").click();
    await ada
      .getByTestId("rooms-error")
      .filter({ hasText: 'There is already a room called "general".' })
      .waitFor();
    await shots.take(ada, "ada is told the name is taken");
    await ada.getByTestId("new-room-name").fill("");

    // Bo (a member, not the creator) may only leave.
    await bo.getByTestId("room-menu").click();
    await bo.getByTestId("room-menu-leave").waitFor();
    expect(await bo.getByTestId("room-menu-rename").count()).toBe(0);
    expect(await bo.getByTestId("room-menu-delete").count()).toBe(0);
    await shots.take(bo, "bo's room menu: leave only");
    await bo.keyboard.press("Escape");

    // Ada renames general: Bo's list and open view follow at once.
    await ada.getByTestId("room-menu").click();
    await shots.take(ada, "ada's room menu");
    await ada.getByTestId("room-menu-rename").click();
    await ada.getByTestId("rename-input").fill("random");
    await ada.getByTestId("rename-save").click();
    await ada
      .getByTestId("dialog-error")
      .filter({ hasText: 'There is already a room called "random".' })
      .waitFor();
    await shots.take(ada, "rename refused: name taken");
    await ada.getByTestId("rename-input").fill("Announcements");
    await ada.getByTestId("rename-save").click();
    await ada.getByTestId("rename-dialog").waitFor({ state: "detached" });
    await ada.getByTestId("room-title").filter({ hasText: "Announcements" }).waitFor();
    await bo.getByTestId("room-title").filter({ hasText: "Announcements" }).waitFor();
    await roomItem(bo, "Announcements").waitFor();
    expect(await roomItem(bo, "general").count()).toBe(0);
    await shots.take(bo, "bo sees the new name live");

    // Bo leaves it: back to the list, the room marked as left, its messages no longer counted.
    await bo.getByTestId("room-menu").click();
    await bo.getByTestId("room-menu-leave").click();
    await waitFor(() => new URL(bo.url()).pathname === "/", { what: "Bo back at the list" });
    await roomItem(bo, "Announcements").filter({ hasText: "You left" }).waitFor();
    await send(ada, "Anyone still here?");
    await waitFor(
      async () => (await roomItem(bo, "Announcements").getAttribute("data-last-seq")) === "4",
      { what: "Bo's list hears of the new message" },
    );
    expect(await unreadOf(bo, "Announcements")).toBe("");
    await shots.take(bo, "bo left announcements");

    // Ada deletes random while Bo has it open: Bo is told, and it leaves every list.
    await openRoom(bo, "random");
    await openRoom(ada, "random");
    await ada.getByTestId("room-menu").click();
    await ada.getByTestId("room-menu-delete").click();
    await ada.getByTestId("delete-dialog").waitFor();
    await shots.take(ada, "ada confirms the deletion");
    await ada.getByTestId("delete-confirm").click();
    await waitFor(() => new URL(ada.url()).pathname === "/", { what: "Ada back at the list" });
    await bo.getByTestId("room-deleted").filter({ hasText: "Ada deleted this room." }).waitFor();
    await roomItem(bo, "random").waitFor({ state: "detached" });
    await roomItem(boLaptop, "random").waitFor({ state: "detached" });
    expect(await roomItem(ada, "random").count()).toBe(0);
    await shots.take(bo, "bo is told the room was deleted");
    expect(pageErrors).toEqual([]);
  });

  it("phone: the badge, the menu and the dialogs fit a 390 px screen; counts cap at 99+", async () => {
    const shots = await screenshots("rooms phone");
    const org = "rooms-phone";
    const kat = await chat.signIn("Katherine", org);
    const dorothy = await chat.signIn("Dorothy", org);
    const list = chat.client().chatRoomList.getOrCreate([org], { params: { token: kat.token } });
    const busy = await list.createRoom("mission control");
    await list.createRoom("quiet room");
    const room = chat.client().chatRoom.get([org, busy.id], { params: { token: kat.token } });
    for (let i = 1; i <= 120; i++) await room.send(`Telemetry reading ${i}`);

    const page = await pageFor(dorothy, PHONE, true);
    await waitFor(async () => (await unreadOf(page, "mission control")) === "99+", {
      what: "99+ unread",
    });
    await waitFor(async () => (await page.title()) === "(99+) Troupe chat", { what: "title" });
    await expectNoHorizontalScroll(page);
    await shots.take(page, "phone list with a capped count");

    await openRoom(page, "mission control");
    await page.getByTestId("room-menu").click();
    await expectNoHorizontalScroll(page);
    await shots.take(page, "phone room menu");
    await page.keyboard.press("Escape");
    await page.getByRole("link", { name: "Back to rooms" }).click();
    await roomItem(page, "mission control").waitFor();
    expect(await unreadOf(page, "mission control")).toBe("");
    expect(await page.title()).toBe("Troupe chat");

    // The creator's rename dialog on a phone.
    const katPage = await pageFor(kat, PHONE, true);
    await openRoom(katPage, "quiet room");
    await katPage.getByTestId("room-menu").click();
    await katPage.getByTestId("room-menu-rename").click();
    await katPage.getByTestId("rename-input").fill("Mission Control");
    await katPage.getByTestId("rename-save").click();
    await katPage
      .getByTestId("dialog-error")
      .filter({ hasText: 'There is already a room called "mission control".' })
      .waitFor();
    await expectNoHorizontalScroll(katPage);
    await shots.take(katPage, "phone rename dialog with its error");
    await katPage.getByRole("button", { name: "Cancel" }).click();
    await katPage.getByTestId("room-menu").click();
    await katPage.getByTestId("room-menu-delete").click();
    await katPage.getByTestId("delete-dialog").waitFor();
    await shots.take(katPage, "phone delete confirmation");
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
