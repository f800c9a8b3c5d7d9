// The command itself, from its packed tarball (`npx --yes ./create-troupe-<v>.tgz`, the code
// path of `npm create troupe@latest`) and from the repo (`pnpm create-app`): the templates it
// lists are the repo's, it refuses an unknown template, a bad name and a non-empty folder with
// one clear message and writes nothing, and with no arguments on a terminal it asks (driven
// through a pseudo-terminal from `script`, the screen rendered by @xterm/headless; the
// transcript is what create-app/README.md shows).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import xterm from "@xterm/headless";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { cleanEnv, run, scratchDir } from "./helpers.js";
import { PACKAGE_DIR, REPO_ROOT, TEMPLATES_DIR } from "./paths.js";

let work: string;
let tarball: string;
beforeAll(async () => {
  work = await scratchDir();
  tarball = `./${basename(inject("tarball"))}`;
  copyFileSync(inject("tarball"), join(work, tarball));
});

const cli = (args: string[], check = false) =>
  run("npx", ["--yes", tarball, ...args], { cwd: work, check });

/** The repo's templates: folders of templates/ with a package.json, and their descriptions. */
function repoTemplates(): { name: string; description: string }[] {
  return readdirSync(TEMPLATES_DIR)
    .filter((name) => existsSync(join(TEMPLATES_DIR, name, "package.json")))
    .sort()
    .map((name) => ({
      name,
      description: JSON.parse(readFileSync(join(TEMPLATES_DIR, name, "package.json"), "utf8"))
        .description,
    }));
}

describe("listing and help", () => {
  it("--list prints the repo's templates, each with its one-line description", async () => {
    const { code, stdout } = await cli(["--list"]);
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines.map((l) => l.trim().split(/\s+/)[0])).toEqual(repoTemplates().map((t) => t.name));
    for (const t of repoTemplates()) expect(stdout).toContain(t.description);
  });

  it("--help names every option", async () => {
    const { code, stdout } = await cli(["--help"]);
    expect(code).toBe(0);
    for (const option of [
      "--template",
      "--no-install",
      "--no-git",
      "--pm",
      "--yes",
      "--force",
      "--list",
    ]) {
      expect(stdout).toContain(option);
    }
  });
});

describe("refusals: one message, exit 1, nothing written", () => {
  it("an unknown template, listing the valid ones", async () => {
    const { code, stderr } = await cli(["app-a", "--template", "blog", "--no-install"]);
    expect(code).toBe(1);
    expect(stderr).toContain('There is no template "blog". The templates are:');
    for (const t of repoTemplates()) expect(stderr).toContain(t.name);
    expect(existsSync(join(work, "app-a"))).toBe(false);
  });

  it("a name that cannot be a package name", async () => {
    const { code, stderr } = await cli(["My_App", "--template", "chat", "--no-install"]);
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(
      '"My_App" cannot be a package name: name can no longer contain capital letters. Use lowercase letters, digits and dashes, e.g. my-troupe-app.',
    );
    expect(existsSync(join(work, "My_App"))).toBe(false);
  });

  it("a folder that is not empty, unless --force", async () => {
    mkdirSync(join(work, "taken"));
    writeFileSync(join(work, "taken", "notes.txt"), "mine");
    const refused = await cli(["taken", "--template", "chat", "--no-install", "--no-git"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      "taken is not empty (notes.txt): choose another folder, or --force to write into it.",
    );
    expect(readdirSync(join(work, "taken"))).toEqual(["notes.txt"]);

    const forced = await cli([
      "taken",
      "--template",
      "chat",
      "--no-install",
      "--no-git",
      "--force",
    ]);
    expect(forced.code).toBe(0);
    expect(readFileSync(join(work, "taken", "notes.txt"), "utf8")).toBe("mine");
    expect(JSON.parse(readFileSync(join(work, "taken", "package.json"), "utf8")).name).toBe(
      "taken",
    );
  });

  it("an unknown package manager, and missing answers with no terminal to ask on", async () => {
    const pm = await cli(["app-b", "--template", "chat", "--pm", "bun"]);
    expect([pm.code, pm.stderr.trim()]).toEqual([
      1,
      '--pm must be one of npm, pnpm, yarn, not "bun".',
    ]);
    const bare = await cli([]);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain("there is no terminal to ask on");
    expect(readdirSync(work).sort()).toEqual([basename(tarball), "taken"].sort());
  });

  it("an unknown option or a missing value: one plain sentence and where the options are", async () => {
    const unknown = await cli(["app-c", "--bogus"]);
    expect([unknown.code, unknown.stderr.trim()]).toEqual([
      1,
      "Unknown option '--bogus'. create-troupe --help lists the options.",
    ]);
    const missing = await cli(["app-c", "--template"]);
    expect([missing.code, missing.stderr.trim()]).toEqual([
      1,
      "Option '-t, --template <value>' argument missing. create-troupe --help lists the options.",
    ]);
    expect(existsSync(join(work, "app-c"))).toBe(false);
  });
});

describe("non-interactive runs", () => {
  it("--yes takes the defaults and runs git init", async () => {
    const dir = await scratchDir();
    copyFileSync(inject("tarball"), join(dir, basename(tarball)));
    const { stdout } = await run("npx", ["--yes", tarball, "--yes", "--no-install"], {
      cwd: dir,
      env: cleanEnv({
        GIT_AUTHOR_NAME: "Test",
        GIT_AUTHOR_EMAIL: "test@example.com",
        GIT_COMMITTER_NAME: "Test",
        GIT_COMMITTER_EMAIL: "test@example.com",
      }),
    });
    const app = join(dir, "my-troupe-app");
    expect(stdout).toContain(`chat template written to ${app}`);
    expect(stdout).toContain("git: initialised, first commit made");
    const log = await run("git", ["log", "--format=%s", "--name-only"], { cwd: app });
    expect(log.stdout).toContain("Initial commit from create-troupe");
    expect(log.stdout).toContain("vendor/troupe/package.json");
    expect(log.stdout).toContain(".gitignore");
  });

  it("from the repo: pnpm create-app <dir> --template game", async () => {
    const dir = join(await scratchDir(), "my-game");
    const { stdout } = await run(
      "pnpm",
      ["create-app", dir, "--template", "game", "--no-install", "--no-git"],
      { cwd: REPO_ROOT },
    );
    expect(stdout).toContain(`game template written to ${dir}`);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    expect(pkg.name).toBe("my-game");
    expect(pkg.dependencies.troupe).toBe("file:./vendor/troupe");
    expect(JSON.stringify(pkg)).not.toContain("workspace:");
    expect(existsSync(join(dir, "vendor", "troupe", "src", "index.ts"))).toBe(true);
    // The package built from the repo is the one the tests packed (same assembly).
    expect(existsSync(join(PACKAGE_DIR, "assets", "templates", "game"))).toBe(true);
  });

  it("from the repo: pnpm create-app <relative name> writes into the folder pnpm was run in", async () => {
    // pnpm runs the root's script in the repo's root and says where it was run in INIT_CWD,
    // which it sets itself (a value given to it is replaced): run from a scratch folder with
    // `--dir`, as from anywhere else.
    const here = await scratchDir();
    const name = `rel-app-${randomBytes(3).toString("hex")}`;
    try {
      const { stdout } = await run(
        "pnpm",
        ["--dir", REPO_ROOT, "create-app", name, "--template", "chat", "--no-install", "--no-git"],
        { cwd: here },
      );
      expect(existsSync(join(REPO_ROOT, name))).toBe(false);
      expect(readdirSync(here)).toEqual([name]);
      expect(JSON.parse(readFileSync(join(here, name, "package.json"), "utf8")).name).toBe(name);
      expect(stdout).toContain(`chat template written to ${join(here, name)}`);
      // Relative to where the person is, in the package manager they ran it with.
      expect(stdout).toContain(`cd ${name} && pnpm install && pnpm dev`);
    } finally {
      // What a broken resolution would have written into the repo.
      rmSync(join(REPO_ROOT, name), { recursive: true, force: true });
    }
  });
});

/** Renders what a terminal of `cols` columns shows after `data`: the transcript. */
async function render(data: string, cols: number): Promise<string> {
  const term = new xterm.Terminal({ cols, rows: 200, scrollback: 0, allowProposedApi: true });
  await new Promise<void>((resolve) => term.write(data, resolve));
  const lines: string[] = [];
  const buffer = term.buffer.active;
  // Trimmed at the end of each line: xterm keeps the spaces a program wrote there (clack's
  // wrapped hints end with one), which a README cannot keep.
  for (let i = 0; i < buffer.length; i++)
    lines.push((buffer.getLine(i)?.translateToString(true) ?? "").trimEnd());
  term.dispose();
  return lines.join("\n").trimEnd();
}

/** The screens under create-app/README.md's "Interactive run": while it asks, and at the end. */
function readmeTranscript(): string[] {
  const readme = readFileSync(join(PACKAGE_DIR, "README.md"), "utf8");
  const section = /^## Interactive run\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? "";
  return [...section.matchAll(/^```\n([\s\S]*?)\n```$/gm)].map((m) => m[1]!);
}

/**
 * A screen's words in order, without its layout: where clack wraps a long option depends on the
 * width it read when it started, which a pseudo-terminal resized by `stty` gives it a moment late
 * in some runs (the chat's description then wraps a word earlier, and boxes are narrower).
 */
function words(screen: string): string {
  return screen
    .replace(/^│ */gm, "") // the left gutter, wherever a line was wrapped
    .replace(/─+/g, "─")
    .replace(/\s+/g, " ")
    .trim();
}

describe("interactive", () => {
  it("asks name, template, install and git init on a terminal", async () => {
    const dir = await scratchDir();
    copyFileSync(inject("tarball"), join(dir, basename(tarball)));
    const cols = 90;
    // `script` gives the command a pseudo-terminal; keys go in through its stdin.
    const child = spawn(
      "script",
      ["-q", "-e", "-c", `stty cols ${cols} rows 40; npx --yes ${tarball}`, "/dev/null"],
      { cwd: dir, env: cleanEnv({ TERM: "xterm-256color" }), stdio: ["pipe", "pipe", "pipe"] },
    );
    let raw = "";
    child.stdout.on("data", (d: Buffer) => (raw += d));
    child.stderr.on("data", (d: Buffer) => (raw += d));
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    const plain = () => stripVTControlCharacters(raw);
    /** Waits until the screen shows `text` (after the last key sent), then sends `keys`. */
    let seen = 0;
    async function answer(text: string, ...keys: string[]) {
      const deadline = Date.now() + 60_000;
      while (plain().indexOf(text, seen) === -1) {
        if (Date.now() > deadline) throw new Error(`No "${text}" on the terminal:\n${plain()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      seen = plain().length;
      for (const key of keys) {
        child.stdin.write(key);
        // The prompt redraws after each key; the next key waits for that redraw.
        const before = raw.length;
        const until = Date.now() + 10_000;
        while (raw.length === before && Date.now() < until)
          await new Promise((r) => setTimeout(r, 20));
      }
    }
    const templates = repoTemplates().map((t) => t.name);
    const next = templates[templates.indexOf("chat") + 1]!;
    await answer("App name", ..."my-pty-app".split(""), "\r");
    await answer("Enter: confirm"); // the whole list is drawn
    const asking = await render(raw, cols); // the screen while it asks for the template
    await answer("", "\x1b[B", "\r"); // one down from chat
    await answer("Install dependencies now with npm?", "\x1b[C", "\r"); // No
    await answer("Initialise a git repository?", "\r"); // Yes, the default
    expect(await exited).toBe(0);

    const screen = await render(raw, cols);
    for (const t of repoTemplates()) expect(asking).toContain(t.name);
    expect(asking).toContain("● chat");
    expect(screen).toContain(`◇  Template\n│  ${next}`);
    expect(screen).toContain(`${next} template written to ${join(dir, "my-pty-app")}`);
    expect(screen).toContain("cd my-pty-app && npm install && npm run dev");
    expect(existsSync(join(dir, "my-pty-app", "package.json"))).toBe(true);
    expect(existsSync(join(dir, "my-pty-app", "node_modules"))).toBe(false);
    expect(existsSync(join(dir, "my-pty-app", ".git"))).toBe(true);
    // For create-app/README.md (artifacts/ is git-ignored).
    const end = screen.replaceAll(dir, "/tmp/demo");
    mkdirSync(join(PACKAGE_DIR, "artifacts"), { recursive: true });
    writeFileSync(
      join(PACKAGE_DIR, "artifacts", "interactive-transcript.txt"),
      `While it asks for the template:\n\n${asking}\n\nAt the end:\n\n${end}\n`,
    );
    // What the README shows is this run's screens: a change to the prompts, the templates or
    // the final note that the README does not follow fails here.
    expect(
      readmeTranscript().map(words),
      "create-app/README.md's transcript differs from this run's screens (written to create-app/artifacts/interactive-transcript.txt): update the README",
    ).toEqual([words(asking), words(end)]);
  });
});
