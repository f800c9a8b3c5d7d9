/**
 * Headless Debian Chromium through playwright-core (no browser download), and numbered
 * screenshots of every step under e2e/artifacts/<test>/NN-step.png.
 *
 * @example
 * const browser = await launchChromium();
 * const shots = screenshots("chat in two browsers");
 * const page = await (await browser.newContext()).newPage();
 * await shots.take(page, "signed in");   // e2e/artifacts/chat-in-two-browsers/01-signed-in.png
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { ARTIFACTS_DIR, CHROMIUM_PATH, REPO_ROOT } from "./paths.js";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/**
 * Installs Chromium with the repo's script when it is missing (apt-get, as root on Debian), and
 * fails with the way to install it otherwise: browser tests are never skipped silently.
 */
export async function ensureChromium(): Promise<void> {
  if (existsSync(CHROMIUM_PATH)) return;
  let output = "";
  await new Promise<void>((resolve) => {
    const run = spawn("bash", [join(REPO_ROOT, "scripts", "ensure-chromium.sh")], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    run.stdout.on("data", (d: Buffer) => (output += d.toString()));
    run.stderr.on("data", (d: Buffer) => (output += d.toString()));
    run.once("error", (err) => {
      output += String(err);
      resolve();
    });
    run.once("exit", () => resolve());
  });
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is required for the browser tests and is not at ${CHROMIUM_PATH}. ` +
        "Install it with `sudo apt-get install chromium` (Debian/Ubuntu; `bash scripts/ensure-chromium.sh` does it as root) " +
        `or point CHROMIUM_PATH at a Chromium binary.\n${output}`,
    );
  }
}

export async function launchChromium(): Promise<Browser> {
  await ensureChromium();
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

export interface Screenshots {
  dir: string;
  /** Saves a full-page screenshot as the next numbered step; returns its path. */
  take(page: Page, step: string): Promise<string>;
}

/** A fresh artifacts folder for one test (the previous run's shots are removed). */
export async function screenshots(testName: string): Promise<Screenshots> {
  const dir = join(ARTIFACTS_DIR, slug(testName));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  let n = 0;
  return {
    dir,
    async take(page, step) {
      n += 1;
      const path = join(dir, `${String(n).padStart(2, "0")}-${slug(step)}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
  };
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 60);
}
