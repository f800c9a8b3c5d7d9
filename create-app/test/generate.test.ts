// What generateApp rewrites in an app, without installing it: each app's own development
// database, and a README that opens with the commands of the package manager it was made with.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateApp } from "../src/generate.js";
import { scratchDir } from "./helpers.js";

const TEMPLATES = ["ai-agent", "chat", "game", "rate-limiter"];

async function generate(template: string, name: string, pm: "npm" | "pnpm" | "yarn" = "npm") {
  const dir = join(await scratchDir(), name);
  generateApp({ dir, name, template, pm });
  return {
    dir,
    main: readFileSync(join(dir, "src", "main.ts"), "utf8"),
    readme: readFileSync(join(dir, "README.md"), "utf8"),
  };
}

const embeddedName = (main: string) => /embeddedName: "([^"]+)"/.exec(main)?.[1];

describe("each app gets a development database of its own", () => {
  it.each(TEMPLATES)("%s: named after the app, not the template", async (template) => {
    const app = await generate(template, `my-${template}`);
    const name = embeddedName(app.main);
    expect(name).toMatch(new RegExp(`^my-${template}-[0-9a-f]{6}$`));
    expect(app.main).not.toContain(`"${template}-template"`);
    // Where the README says where the data is kept, it names this app's folder.
    expect(app.readme).not.toContain(`troupe-pg/${template}-template`);
    if (app.readme.includes("/var/tmp/troupe-pg/")) {
      expect(app.readme).toContain(`/var/tmp/troupe-pg/${name}`);
    }
  });

  it("two apps of the same name (in different folders) do not share one", async () => {
    const a = await generate("chat", "my-app");
    const b = await generate("chat", "my-app");
    expect(embeddedName(a.main)).not.toBe(embeddedName(b.main));
  });

  it("a scoped package name becomes a valid database name", async () => {
    const app = await generate("chat", "@acme/team-chat");
    expect(embeddedName(app.main)).toMatch(/^acme-team-chat-[0-9a-f]{6}$/);
  });
});

describe("the README opens with the commands of the app's package manager", () => {
  const opening = (readme: string) => readme.split("\n").slice(2, 6).join("\n");

  it("npm", async () => {
    const { readme } = await generate("chat", "app-npm", "npm");
    expect(opening(readme)).toBe(
      [
        "```sh",
        "npm install && npm run dev   # install, then start with hot reload (prints the URL)",
        "npm test                     # run the tests",
        "```",
      ].join("\n"),
    );
  });

  it("pnpm", async () => {
    const { readme } = await generate("chat", "app-pnpm", "pnpm");
    expect(opening(readme)).toBe(
      [
        "```sh",
        "pnpm install && pnpm dev     # install, then start with hot reload (prints the URL)",
        "pnpm test                    # run the tests",
        "```",
      ].join("\n"),
    );
    expect(readme).toContain("Installed with pnpm: keep to it (its lockfile is `pnpm-lock.yaml`).");
    expect(readme).not.toMatch(/(^|[^p])npm (install|run|test)/m);
  });

  it("yarn", async () => {
    const { readme } = await generate("rate-limiter", "app-yarn", "yarn");
    expect(opening(readme)).toBe(
      [
        "```sh",
        "yarn && yarn dev             # install, then start with hot reload (prints the URL)",
        "yarn test                    # run the tests",
        "```",
      ].join("\n"),
    );
    expect(readme).toContain("Installed with yarn: keep to it (its lockfile is `yarn.lock`).");
    expect(readme).toContain("write `yarn <script>`.");
  });
});
