// The game's built frontend in headless Chromium against the production server (its `start`
// script, short matches through the tuning variables): the leaderboard empty and unreachable;
// Ada and Bo press Play in two browsers and
// land in the same match; each walks towards the other with the keyboard until they see each
// other, then each sees the other move (positions read from the page's entity table,
// `window.__game`); Ada shoots just past Bo: her bullets fly on Bo's page, and both HUDs' score tables
// agree; Ada reloads mid-match and comes back as the same entity; the server is
// killed ("Reconnecting…" on both pages) and started again, and both are back in the match as
// the same entities; the match ends and
// both get the results screen with their rating changes, and the leaderboard lists them. On a
// phone viewport Cy plays against bots: appears with spawn protection that runs out by itself,
// opens and closes the one-line score table with a tap, and walks with the on-screen stick
// (touch events).
// Every step is a screenshot in e2e/artifacts/<test>/.
// `window.__game`, the page's read-only view of the match.
import type {} from "@troupe/template-game/src/frontend/game/debug.js";
import { MAP_HEIGHT, MAP_WIDTH, PLAYER_RADIUS } from "@troupe/template-game/src/sim/constants.js";
import { lineOfSight, type Point, WALLS } from "@troupe/template-game/src/sim/map.js";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { createScratchDatabase } from "troupe/db";
import { waitFor } from "troupe/test";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, screenshots } from "./support/browser.js";
import { type ChatProduction, startChatProduction } from "./support/chat-server.js";
import { GAME_DIR } from "./support/paths.js";

/** How long the UI may take to show something that arrives over the network. */
const UI_TIMEOUT = 15_000;
/**
 * How long a player may take to walk somewhere with the keyboard: each step is a round trip to
 * the page and may need a detour round a wall; on a loaded machine (pings near a second were seen
 * in CI) that takes far longer than one update.
 */
const WALK_TIMEOUT = 45_000;
/**
 * Two players make a full match at once; alone, bots come after 8 s. Three-minute matches: the
 * steps before the end may each take their full timeout on a loaded machine.
 */
const MATCH_MS = 180_000;
const TUNING = {
  GAME_MATCH_SIZE: "2",
  GAME_BOT_FILL_AFTER_MS: "8000",
  GAME_COUNTDOWN_MS: "2000",
  GAME_MATCH_DURATION_MS: String(MATCH_MS),
};

let server: ChatProduction;
let dropDatabase: (() => Promise<void>) | undefined;
let browser: Browser;
const contexts: BrowserContext[] = [];
const pageLog: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  const scratch = await createScratchDatabase(inject("databaseUrl"));
  dropDatabase = scratch.drop;
  [server, browser] = await Promise.all([
    startChatProduction({
      dir: GAME_DIR,
      label: "game",
      databaseUrl: scratch.url,
      env: TUNING,
    }),
    launchChromium(),
  ]);
}, 600_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === "fail") {
    console.error(`--- browser console (${ctx.task.name}) ---\n${pageLog.join("\n")}\n---`);
    console.error(`--- game server output ---\n${server?.output()}\n---`);
  }
});

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await server?.close();
  await dropDatabase?.();
});

async function newPage(
  who: string,
  options: Parameters<Browser["newContext"]>[0] = {},
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, ...options });
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

interface Entity {
  id: string;
  k: string;
  x: number;
  y: number;
  alive?: boolean;
  shielded?: boolean;
}

interface Score {
  entity: string;
  kills: number;
  deaths: number;
}

const you = (page: Page) => page.evaluate(() => window.__game?.you() ?? null);
const me = (page: Page) => page.evaluate(() => window.__game?.me() ?? null);
const status = (page: Page) => page.evaluate(() => window.__game?.status() ?? null);
const phase = (page: Page) => page.evaluate(() => window.__game?.phase() ?? null);
/** Entity `id` as page's table has it (from the server's snapshots), if it knows it. */
const seen = (page: Page, id: string) =>
  page.evaluate(
    (id) => (window.__game?.entities() as Entity[] | undefined)?.find((e) => e.id === id) ?? null,
    id,
  );

/** The HUD's score table. */
const scores = (page: Page) => page.evaluate(() => (window.__game?.scores() ?? []) as Score[]);

/**
 * Points the mouse so that the page aims from `from` at `target` (world units), within 0.15 rad
 * (Ada stands still, Bo is 120-300 units away with no wall between: close enough for her bullets
 * to fly his way). The page says where both are on the canvas (`__game.toScreen`, its camera);
 * the mouse goes on the line from the player towards the target, kept on the canvas (the page
 * reads the pointer only there; the player is always on it, as the camera follows). Returns
 * whether the page's aim got there within three tries.
 */
async function aimAt(page: Page, from: { x: number; y: number }, target: { x: number; y: number }) {
  const want = Math.atan2(target.y - from.y, target.x - from.x);
  let previous: number | undefined;
  for (let i = 0; i < 3; i++) {
    const box = await page.getByTestId("arena-canvas").boundingBox();
    const at = await page.evaluate(
      ([f, t]) => {
        const g = window.__game;
        // From where the page draws the player (predicted), as its aim does.
        const self = g?.me() ?? f!;
        const a = g?.toScreen(self.x, self.y);
        const b = g?.toScreen(t!.x, t!.y);
        return a && b ? { a, b } : null;
      },
      [from, target] as const,
    );
    if (!box || !at) return false;
    const [dx, dy] = [Math.cos(want), Math.sin(want)];
    // How far from the player the line stays on the canvas (10 px in from its edges).
    const room = Math.min(
      dx > 0 ? (box.width - 10 - at.a.x) / dx : dx < 0 ? (10 - at.a.x) / dx : Infinity,
      dy > 0 ? (box.height - 10 - at.a.y) / dy : dy < 0 ? (10 - at.a.y) / dy : Infinity,
    );
    const r = Math.max(Math.min(Math.hypot(at.b.x - at.a.x, at.b.y - at.a.y), room), 20);
    await page.mouse.move(box.x + at.a.x + dx * r, box.y + at.a.y + dy * r);
    const a = await settledAim(page, previous);
    if (a === null) return false;
    if (Math.abs(Math.atan2(Math.sin(a - want), Math.cos(a - want))) < 0.15) return true;
    previous = a;
  }
  return false;
}

/**
 * The aim the page settled on after a mouse move. It reports the aim of the last input it sent
 * (20 a second, later on a loaded machine), so a read right after the move may still be the
 * previous one: a new value that holds for two reads, or any value that holds for half a second.
 */
async function settledAim(page: Page, previous: number | undefined): Promise<number | null> {
  let last = Number.NaN;
  let held = 0;
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 60));
    const self = await me(page);
    if (!self) return null;
    if (self.a === last) held += 1;
    else [last, held] = [self.a, 0];
    if ((held >= 2 && last !== previous) || held >= 8) return last;
  }
  return null;
}

async function play(page: Page, name: string): Promise<void> {
  await page.goto(server.url);
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Play" }).click();
}

const KEYS = { left: "KeyA", right: "KeyD", up: "KeyW", down: "KeyS" } as const;

/** Holds the WASD keys that point from `from` towards `to` (and releases the others). */
async function steer(page: Page, from: Point, to: Point) {
  const want = new Set<string>();
  if (to.x - from.x > 8) want.add(KEYS.right);
  if (from.x - to.x > 8) want.add(KEYS.left);
  if (to.y - from.y > 8) want.add(KEYS.down);
  if (from.y - to.y > 8) want.add(KEYS.up);
  for (const key of Object.values(KEYS)) {
    if (want.has(key)) await page.keyboard.down(key);
    else await page.keyboard.up(key);
  }
}

/**
 * The map as a grid of 20-unit cells, true where a player fits (walls grown by the player's
 * radius and a margin, so that the eight key directions do not catch on corners).
 */
const CELL = 20;
const [COLS, ROWS] = [MAP_WIDTH / CELL, MAP_HEIGHT / CELL];
const FREE = Array.from({ length: COLS * ROWS }, (_, i) => {
  const [x, y] = [(i % COLS) * CELL + CELL / 2, Math.floor(i / COLS) * CELL + CELL / 2];
  const m = PLAYER_RADIUS + 14;
  if (x < m || y < m || x > MAP_WIDTH - m || y > MAP_HEIGHT - m) return false;
  return !WALLS.some((w) => x > w.x - m && x < w.x + w.w + m && y > w.y - m && y < w.y + w.h + m);
});
const cellOf = (p: Point) =>
  Math.min(ROWS - 1, Math.max(0, Math.floor(p.y / CELL))) * COLS +
  Math.min(COLS - 1, Math.max(0, Math.floor(p.x / CELL)));
const centre = (cell: number): Point => ({
  x: (cell % COLS) * CELL + CELL / 2,
  y: Math.floor(cell / COLS) * CELL + CELL / 2,
});

/**
 * Where to head for now on the way from `from` to `to` round the walls: a breadth-first search
 * over the grid (to the free cell nearest `to` when `to` itself is in a wall), then the path's
 * cell three steps on.
 */
function nextWaypoint(from: Point, to: Point): Point {
  let start = cellOf(from);
  if (!FREE[start]) {
    // Pushed against a wall's grown edge: start from the nearest free cell.
    let best = -1;
    for (let c = 0; c < FREE.length; c++) {
      if (!FREE[c]) continue;
      const d = Math.hypot(centre(c).x - from.x, centre(c).y - from.y);
      if (best < 0 || d < Math.hypot(centre(best).x - from.x, centre(best).y - from.y)) best = c;
    }
    return centre(best);
  }
  const previous = new Int32Array(FREE.length).fill(-1);
  previous[start] = start;
  const queue = [start];
  let goal = start;
  let goalDistance = Math.hypot(centre(start).x - to.x, centre(start).y - to.y);
  for (let i = 0; i < queue.length; i++) {
    const cell = queue[i]!;
    const [cx, cy] = [cell % COLS, Math.floor(cell / COLS)];
    for (const [dx, dy] of [
      [1, 0],
      [-1, 0],
      [0, 1],
      [0, -1],
    ] as const) {
      const [nx, ny] = [cx + dx, cy + dy];
      if (nx < 0 || ny < 0 || nx >= COLS || ny >= ROWS) continue;
      const next = ny * COLS + nx;
      if (!FREE[next] || previous[next] !== -1) continue;
      previous[next] = cell;
      queue.push(next);
      const d = Math.hypot(centre(next).x - to.x, centre(next).y - to.y);
      if (d < goalDistance) [goal, goalDistance] = [next, d];
    }
  }
  const path = [goal];
  while (path[0] !== start) path.unshift(previous[path[0]!]!);
  start = path[Math.min(3, path.length - 1)]!;
  return path.length === 1 ? to : centre(start);
}

/** Walks the page's player from `from` towards `to`, round the walls (one step per call). */
function walker(page: Page) {
  return (from: Point, to: Point) => steer(page, from, nextWaypoint(from, to));
}

/** A point 200 units from `me` away from `other` (towards the middle if they are on one spot). */
function awayFrom(me: { x: number; y: number }, other: { x: number; y: number }) {
  const d = Math.hypot(me.x - other.x, me.y - other.y);
  if (d < 1) return { x: me.x + (me.x < 800 ? 200 : -200), y: me.y };
  return { x: me.x + ((me.x - other.x) / d) * 200, y: me.y + ((me.y - other.y) / d) * 200 };
}

/**
 * A point 300 units from `from`, 0.35 rad to one side of `target` (the side with no wall in the
 * way, if one has none): shots there pass Bo by (at 120-300 units, by 40 units or more) and fly
 * their whole 0.8 s through his view. Shots that hit him end at once, and on a loaded machine
 * (pings near a second) his page, drawing the others a little in the past, may never draw a
 * bullet that lived a few hundred milliseconds; and a dead Bo respawns out of sight.
 */
function beside(from: Point, target: Point): Point {
  const angle = Math.atan2(target.y - from.y, target.x - from.x);
  const sides = [0.35, -0.35].map((turn) => ({
    x: from.x + Math.cos(angle + turn) * 300,
    y: from.y + Math.sin(angle + turn) * 300,
  }));
  return sides.find((p) => lineOfSight(from, p)) ?? sides[0]!;
}

async function release(page: Page) {
  for (const key of Object.values(KEYS)) await page.keyboard.up(key);
}

describe("the game in two browsers", () => {
  it("matches Ada and Bo, who see each other move, survive a reload, and get results and the leaderboard", async () => {
    const shots = await screenshots("game two players");
    const ada = await newPage("Ada");
    const bo = await newPage("Bo");

    // Before any match: the leaderboard's empty state, and its error state when the request
    // fails (the network to it cut), with Try again.
    await ada.route("**/api/leaderboard", (route) => route.abort("internetdisconnected"));
    await ada.goto(`${server.url}/leaderboard`);
    await ada.getByRole("alert").getByText("Cannot reach the game server").waitFor();
    await shots.take(ada, "leaderboard unreachable");
    await ada.unroute("**/api/leaderboard");
    await ada.getByRole("button", { name: "Try again" }).click();
    await ada.getByText("No finished matches yet").waitFor();
    await shots.take(ada, "leaderboard empty");

    await Promise.all([play(ada, "Ada"), play(bo, "Bo")]);
    await shots.take(ada, "ada queued or matched");
    // Both in the arena, in the same match, each with an entity of its own.
    const [adaId, boId] = await Promise.all(
      [ada, bo].map((page) => waitFor(() => you(page), { what: "a welcome", timeout: UI_TIMEOUT })),
    );
    const matchIds = await Promise.all(
      [ada, bo].map((page) => page.evaluate(() => window.__game?.matchId)),
    );
    expect(matchIds[0]).toBe(matchIds[1]);
    expect(adaId).not.toBe(boId);
    await shots.take(ada, "ada in the arena, countdown");
    await waitFor(async () => (await phase(ada)) === "live" && (await phase(bo)) === "live", {
      what: "the match to go live",
      timeout: UI_TIMEOUT,
    });

    // They spawn apart: each walks towards the other (round walls) until both see the other.
    const [adaWalks, boWalks] = [walker(ada), walker(bo)];
    const trail: string[] = [];
    await waitFor(
      async () => {
        // Steered by the server's positions (as each page has its own): on a loaded machine the
        // prediction can run far ahead of a server that ticks late.
        const [a, b] = await Promise.all([seen(ada, adaId), seen(bo, boId)]);
        if (!a || !b) throw new Error("Ada or Bo not on their own page");
        const [boSeesAda, adaSeesBo] = await Promise.all([seen(bo, adaId), seen(ada, boId)]);
        if (boSeesAda && adaSeesBo) return true;
        await Promise.all([adaWalks(a, b), boWalks(b, a)]);
        const at = (p: Point) => `(${Math.round(p.x)}, ${Math.round(p.y)})`;
        trail.push(
          `Ada ${at(a)}${adaSeesBo ? " sees Bo" : ""}, Bo ${at(b)}${boSeesAda ? " sees Ada" : ""}`,
        );
        throw new Error(`walked: ${trail.filter((_, i) => i % 10 === 0).join("; ")}`);
      },
      { what: "Ada and Bo to come into each other's view", timeout: 60_000, interval: 100 },
    );
    await Promise.all([release(ada), release(bo)]);
    await shots.take(ada, "ada sees bo");
    await shots.take(bo, "bo sees ada");

    // Bo sees Ada move, and Ada sees Bo move (each walks towards the other, round the walls,
    // or away when already close).
    for (const [mover, watcher, id] of [
      [ada, bo, adaId],
      [bo, ada, boId],
    ] as const) {
      const walk = walker(mover);
      // Where the watcher first has the mover (they may be at the edge of each other's view).
      let before: Entity | null = null;
      await waitFor(
        async () => {
          const now = await seen(watcher, id);
          if (before && now && Math.hypot(now.x - before.x, now.y - before.y) > 40) return true;
          before ??= now;
          const [m, w] = await Promise.all([
            seen(mover, id),
            seen(watcher, id === adaId ? boId : adaId),
          ]);
          if (!m || !w) return false;
          const close = Math.hypot(m.x - w.x, m.y - w.y) < 100;
          await walk(m, close ? awayFrom(m, w) : w);
          return false;
        },
        { what: `${id} to be seen moving`, timeout: WALK_TIMEOUT, interval: 100 },
      );
      await release(mover);
    }
    // What Ada's page predicts for herself agrees with what Bo's page received from the server.
    await waitFor(
      async () => {
        const [mine, theirs] = await Promise.all([me(ada), seen(bo, adaId)]);
        return mine && theirs && Math.hypot(mine.x - theirs.x, mine.y - theirs.y) < 2;
      },
      { what: "Ada's predicted position to match the server's", timeout: UI_TIMEOUT },
    );
    await shots.take(bo, "bo after both moved");

    // Ada stands a little away from Bo, with no wall between them, and shoots just past him.
    // Bullets are sent once: Bo's page draws them moving by itself. (Hits are not tested here:
    // that the HUD's table follows the kills exactly is tested against the server in
    // test/client.test.ts.) One loop, as Bo may die and respawn out of sight: then Ada stops
    // firing and goes to find him again.
    const adaAims = walker(ada);
    let firing = false;
    let bulletShot = false;
    let bulletMoved = false;
    const shotTrail: string[] = [];
    await waitFor(
      async () => {
        const state = await phase(ada);
        if (state !== "live") throw new Error(`the match is ${state}, not live`);
        const [a, seenB] = await Promise.all([seen(ada, adaId), seen(ada, boId)]);
        // Out of Ada's view: she heads for where Bo's own page has him.
        const b = seenB ?? (await seen(bo, boId));
        if (!a || !b) throw new Error("Ada or Bo not on their pages");
        const d = Math.hypot(a.x - b.x, a.y - b.y);
        const clear = lineOfSight(a, b);
        if (!(seenB && clear && d > 120 && d < 300)) {
          // Not in place (walked apart, a wall between them, or Bo respawned elsewhere).
          if (firing) await ada.mouse.up();
          firing = false;
          // Too close (the shot would start inside him): away; too far, or a wall between
          // them: towards him, round the walls.
          const to = clear && d <= 120 ? awayFrom(a, b) : b;
          await adaAims(a, to);
          const at = (p: Point) => `(${Math.round(p.x)}, ${Math.round(p.y)})`;
          shotTrail.push(
            `Ada ${at(a)}${a.alive === false ? " dead" : ""}, Bo ${at(b)}${b.alive === false ? " dead" : ""}: ${Math.round(d)} units, ${clear ? "in" : "out of"} sight, ${seenB ? "in" : "out of"} her view`,
          );
          throw new Error(
            `${shotTrail.filter((_, i) => i % 20 === 0).join("; ")}; now ${shotTrail.at(-1)}`,
          );
        }
        await release(ada);
        if (!firing) {
          if (!(await aimAt(ada, a, beside(a, b)))) throw new Error("Ada aiming, not there yet");
          firing = true;
          await ada.mouse.down();
        }
        // Ada's bullets on Bo's page: sent once (where one was at its tick `t`, and its
        // velocity), drawn further along its line, where it flies at the render tick. Read in
        // the page every 16 ms for up to a second (a bullet is on screen for a few hundred
        // milliseconds, and a round trip to the page is slow on a loaded machine): how far each
        // bullet moved between two reads.
        const flights = await bo.evaluate(async () => {
          const read = () =>
            new Map(
              (window.__game?.drawn() ?? []).filter((e) => e.k === "b").map((e) => [e.id, e]),
            );
          const moves: number[] = [];
          let before = read();
          const until = performance.now() + 1000;
          while (performance.now() < until && !moves.some((m) => m > 5)) {
            await new Promise((r) => setTimeout(r, 16));
            const now = read();
            for (const [id, b] of now) {
              const a = before.get(id);
              if (a) moves.push(Math.hypot(b.x - a.x, b.y - a.y));
            }
            before = now;
          }
          return moves;
        });
        if (flights.length > 0 && !bulletShot) {
          bulletShot = true;
          await shots.take(bo, "bo sees ada's bullets");
        }
        bulletMoved = flights.some((m) => m > 5);
        if (!bulletMoved) {
          throw new Error(`Ada firing; Bo's page drew ${flights.length} bullet moves, none > 5`);
        }
        return true;
      },
      { what: "Ada's bullets to fly on Bo's page", timeout: 75_000, interval: 50 },
    );
    await ada.mouse.up();
    await shots.take(ada, "ada after shooting");
    // Both HUDs hold the same table (with the kills, if any shot hit).
    await waitFor(
      async () => JSON.stringify(await scores(ada)) === JSON.stringify(await scores(bo)),
      { what: "both score tables to agree", timeout: UI_TIMEOUT },
    );

    // Ada reloads: back in the same match as the same entity, with her own entity in view and
    // the score table (sent whole on reconnecting) as Bo's page keeps it from the kills.
    await ada.reload();
    await waitFor(async () => (await you(ada)) === adaId && (await status(ada)) === "connected", {
      what: "Ada back in the match",
      timeout: UI_TIMEOUT,
    });
    expect(await ada.evaluate(() => window.__game?.matchId)).toBe(matchIds[0]);
    await waitFor(() => seen(ada, adaId), { what: "Ada's entity again", timeout: UI_TIMEOUT });
    await waitFor(
      async () => {
        const [mine, theirs] = await Promise.all([scores(ada), scores(bo)]);
        return mine.length === 2 && JSON.stringify(mine) === JSON.stringify(theirs);
      },
      { what: "Ada's reloaded score table to equal Bo's", timeout: UI_TIMEOUT },
    );
    await shots.take(ada, "ada after the reload");
    await waitFor(
      async () => /ping \d+ ms/.test((await ada.getByTestId("ping").textContent()) ?? ""),
      {
        what: "the ping display",
        timeout: UI_TIMEOUT,
      },
    );

    // The connection drops (the server is killed): both pages say so, and once the server is
    // back (the match resumes from its state in Postgres) both are in it again as themselves.
    await server.stop("SIGKILL");
    for (const page of [ada, bo]) await page.getByText("Reconnecting…").waitFor();
    await shots.take(bo, "bo reconnecting");
    await server.start();
    await waitFor(
      async () =>
        (await status(ada)) === "connected" &&
        (await status(bo)) === "connected" &&
        (await you(ada)) === adaId &&
        (await you(bo)) === boId,
      { what: "both back in the match after the restart", timeout: 60_000 },
    );
    expect(await ada.getByText("Reconnecting…").count()).toBe(0);
    await waitFor(() => me(bo), { what: "Bo's entity after the restart", timeout: UI_TIMEOUT });
    await shots.take(bo, "bo back after the restart");

    // The match ends: results on both pages, with the rating changes.
    for (const page of [ada, bo]) {
      await page.getByTestId("results").waitFor({ timeout: MATCH_MS + 30_000 });
    }
    for (const page of [ada, bo]) {
      const text = (await page.getByTestId("results").textContent()) ?? "";
      expect(text).toContain("Ada");
      expect(text).toContain("Bo");
      expect(text).toMatch(/\([+-]\d+\)/);
    }
    await shots.take(ada, "ada results");
    await shots.take(bo, "bo results");

    // The leaderboard (from SQL) lists both.
    await ada.getByRole("button", { name: "Leaderboard" }).click();
    const board = ada.getByTestId("leaderboard");
    await waitFor(async () => (await board.textContent())?.includes("Bo"), {
      what: "the leaderboard to list Bo",
      timeout: UI_TIMEOUT,
    });
    expect(await board.textContent()).toContain("Ada");
    expect(new URL(ada.url()).pathname).toBe("/leaderboard");
    await shots.take(ada, "leaderboard");
    expect(pageErrors).toEqual([]);
  }, 420_000);
});

describe("the game on a phone", () => {
  it("plays against bots and walks with the on-screen stick", async () => {
    const shots = await screenshots("game on a phone");
    const cy = await newPage("Cy", {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    await play(cy, "Cy");
    await cy.getByText("Looking for a match").waitFor();
    await shots.take(cy, "queued");
    const cyId = await waitFor(() => you(cy), { what: "a match with bots", timeout: 30_000 });
    // Spawn protection: the server's view of Cy says shielded from the start (the countdown, or
    // the first 1.5 s of play), and the shield runs out by itself since Cy does not fire.
    const first = await waitFor(() => seen(cy, cyId), { what: "Cy's entity", timeout: UI_TIMEOUT });
    expect(first.shielded, `Cy at the start, in phase ${await phase(cy)}`).toBe(true);
    await shots.take(cy, "shielded at the start");
    await waitFor(async () => (await phase(cy)) === "live", {
      what: "the match to go live",
      timeout: UI_TIMEOUT,
    });
    await waitFor(async () => (await seen(cy, cyId))?.shielded === false, {
      what: "Cy's spawn protection to run out",
      timeout: UI_TIMEOUT,
    });
    const stick = cy.getByTestId("stick-left");
    await stick.waitFor();
    await shots.take(cy, "arena on a phone");

    // The phone's HUD: the score table is one line, opened and closed by a tap.
    const scoreline = cy.getByTestId("scoreline");
    await scoreline.waitFor();
    expect(await cy.getByTestId("scores").count()).toBe(0);
    await scoreline.tap();
    await cy.getByTestId("scores").waitFor();
    await shots.take(cy, "score table opened");
    await scoreline.tap();
    await cy.getByTestId("scores").waitFor({ state: "detached" });

    // Touch the left stick and drag towards the middle of the map.
    const start = (await me(cy))!;
    const dir = start.x < 800 ? 1 : -1;
    const box = (await stick.boundingBox())!;
    const cx = box.x + box.width / 2;
    const cyy = box.y + box.height / 2;
    const cdp = await cy.context().newCDPSession(cy);
    const touch = (type: "touchStart" | "touchMove" | "touchEnd", x: number, y: number) =>
      cdp.send("Input.dispatchTouchEvent", {
        type,
        touchPoints: type === "touchEnd" ? [] : [{ x, y, id: 1 }],
      });
    await touch("touchStart", cx, cyy);
    await touch("touchMove", cx + dir * 30, cyy);
    await touch("touchMove", cx + dir * 60, cyy);
    await waitFor(
      async () => {
        const now = await me(cy);
        return now?.alive && (now.x - start.x) * dir > 60;
      },
      { what: "Cy to walk with the stick", timeout: UI_TIMEOUT },
    );
    await shots.take(cy, "walking with the stick");
    await touch("touchEnd", 0, 0);
    // The server has Cy where the page shows Cy (the stick's input reached it).
    await waitFor(
      async () => {
        const [mine, server] = await Promise.all([me(cy), seen(cy, cyId)]);
        return (
          mine &&
          server &&
          Math.abs(server.x - start.x) > 60 &&
          Math.hypot(mine.x - server.x, mine.y - server.y) < 2
        );
      },
      { what: "the server to agree with the page", timeout: UI_TIMEOUT },
    );
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
