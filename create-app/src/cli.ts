/**
 * `create-troupe [dir] [options]` (also `create-app`, `npm create troupe`, `pnpm create-app` in
 * the repo): makes a standalone app from a Troupe template. With no arguments on a terminal it
 * asks (name, template, install now, git init) with @clack/prompts; every question has a flag,
 * so CI runs it with `--yes` or with a name and `--template`.
 *
 * @example
 * npx create-troupe my-chat --template chat --pm npm --no-git
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { basename, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as p from "@clack/prompts";
import validateName from "validate-npm-package-name";
import { folderContents, generateApp } from "./generate.js";
import {
  detectPackageManager,
  install,
  isPackageManager,
  PACKAGE_MANAGERS,
  type PackageManager,
  runCommand,
} from "./pm.js";
import { listTemplates, type TemplateInfo } from "./templates.js";

const DEFAULT_NAME = "my-troupe-app";
const DEFAULT_TEMPLATE = "chat";

const HELP = `Usage: create-troupe [dir] [options]

Makes a standalone realtime app from a Troupe template in <dir> (its last part is the app's
package name). Without arguments, on a terminal, it asks.

Options:
  -t, --template <name>  the template (--list shows them)
      --pm <npm|pnpm|yarn>  the package manager to install with (default: the one that runs this)
      --no-install       do not install dependencies
      --no-git           do not run git init
  -y, --yes              ask nothing: default name (${DEFAULT_NAME}), template (${DEFAULT_TEMPLATE}), install, git init
  -f, --force            write into <dir> even if it is not empty (files there may be overwritten)
  -l, --list             print the templates and exit
  -h, --help             print this and exit
`;

export class UsageError extends Error {}

export interface CliOptions {
  dir?: string;
  template?: string;
  pm?: string;
  install: boolean;
  git: boolean;
  yes: boolean;
  force: boolean;
  list: boolean;
  help: boolean;
}

export function parseCliArgs(argv: string[]): CliOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    // Node's own message goes on about positionals after "--" for an unknown option: its first
    // sentence is the one that helps.
    const first = (err as Error).message
      .split("\n")[0]!
      .split(/(?<=\.) /)[0]!
      .replace(/\.$/, "");
    throw new UsageError(`${first}. create-troupe --help lists the options.`);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) {
    throw new UsageError(
      `One app folder at a time: got ${positionals.map((a) => `"${a}"`).join(", ")}.`,
    );
  }
  return {
    dir: positionals[0],
    template: values.template,
    pm: values.pm,
    install: !values["no-install"],
    git: !values["no-git"],
    yes: Boolean(values.yes),
    force: Boolean(values.force),
    list: Boolean(values.list),
    help: Boolean(values.help),
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      template: { type: "string", short: "t" },
      pm: { type: "string" },
      "no-install": { type: "boolean" },
      "no-git": { type: "boolean" },
      yes: { type: "boolean", short: "y" },
      force: { type: "boolean", short: "f" },
      list: { type: "boolean", short: "l" },
      help: { type: "boolean", short: "h" },
    },
  });
}

function templateList(templates: TemplateInfo[]): string {
  const width = Math.max(...templates.map((t) => t.name.length));
  return templates.map((t) => `  ${t.name.padEnd(width)}  ${t.description}`).join("\n");
}

/** Why `name` cannot be the app's package name, or undefined if it can. */
export function invalidName(name: string): string | undefined {
  const result = validateName(name);
  if (result.validForNewPackages) return undefined;
  const why = [...(result.errors ?? []), ...(result.warnings ?? [])][0] ?? "it is not valid";
  return `"${name}" cannot be a package name: ${why}. Use lowercase letters, digits and dashes, e.g. ${DEFAULT_NAME}.`;
}

function checkTemplate(name: string, templates: TemplateInfo[]): TemplateInfo {
  const found = templates.find((t) => t.name === name);
  if (!found) {
    throw new UsageError(
      `There is no template "${name}". The templates are:\n${templateList(templates)}`,
    );
  }
  return found;
}

/** Leaves with "Cancelled." when the person pressed Ctrl-C or Esc at a prompt. */
function answered<T>(value: T): Exclude<T, symbol> {
  if (p.isCancel(value)) {
    p.cancel("Cancelled: nothing was written.");
    process.exit(1);
  }
  return value as Exclude<T, symbol>;
}

function insideGitRepo(dir: string): boolean {
  try {
    execFileSync("git", ["rev-parse", "--is-inside-work-tree"], { cwd: dir, stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** `git init` and a first commit; says what it could not do instead of failing the run. */
function gitInit(dir: string): string {
  if (insideGitRepo(dir)) return "git: left alone (the folder is inside a git repository already)";
  try {
    execFileSync("git", ["init", "-q"], { cwd: dir, stdio: "ignore" });
  } catch {
    return "git: not initialised (is git installed?)";
  }
  try {
    execFileSync("git", ["add", "-A"], { cwd: dir, stdio: "ignore" });
    execFileSync("git", ["commit", "-q", "-m", "Initial commit from create-troupe"], {
      cwd: dir,
      stdio: "ignore",
    });
    return "git: initialised, first commit made";
  } catch {
    return "git: initialised, files staged (no commit: set git's user.name and user.email)";
  }
}

/** The spinner's start and stop as plain log lines, for output that is not a terminal. */
function lineSpinner(): Pick<p.SpinnerResult, "start" | "stop" | "error"> {
  return {
    start: (msg) => p.log.step(`${msg ?? ""}…`),
    stop: (msg) => p.log.success(msg ?? ""),
    error: (msg) => p.log.error(msg ?? ""),
  };
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const opts = parseCliArgs(argv);
  if (opts.help) {
    process.stdout.write(HELP);
    return;
  }
  const templates = listTemplates();
  if (opts.list) {
    process.stdout.write(`${templateList(templates)}\n`);
    return;
  }

  const interactive = !opts.yes && process.stdin.isTTY === true && process.stdout.isTTY === true;
  if (!interactive && !opts.yes && (!opts.dir || !opts.template)) {
    throw new UsageError(
      "Give the app's folder and a template (create-troupe my-app --template chat), or --yes for the defaults: there is no terminal to ask on.",
    );
  }
  // `pnpm create-app` runs in the repo's root: the person's folder is INIT_CWD.
  const base = process.env.INIT_CWD ?? process.cwd();
  if (opts.template) checkTemplate(opts.template, templates);
  if (opts.pm !== undefined && !isPackageManager(opts.pm)) {
    throw new UsageError(`--pm must be one of ${PACKAGE_MANAGERS.join(", ")}, not "${opts.pm}".`);
  }
  const pm: PackageManager = (opts.pm as PackageManager | undefined) ?? detectPackageManager();

  if (interactive) p.intro("create-troupe");
  let dirArg = opts.dir;
  if (dirArg === undefined) {
    dirArg = interactive
      ? answered(
          await p.text({
            message: "App name (its folder)",
            placeholder: DEFAULT_NAME,
            defaultValue: DEFAULT_NAME,
            validate: (value) => invalidName(basename(resolve(base, value || DEFAULT_NAME))),
          }),
        )
      : DEFAULT_NAME;
  }
  const dir = resolve(base, dirArg);
  const name = basename(dir);
  const badName = invalidName(name);
  if (badName) throw new UsageError(badName);
  const contents = folderContents(dir);
  if (contents.length > 0 && !opts.force) {
    throw new UsageError(
      `${relative(base, dir) || "."} is not empty (${contents.slice(0, 3).join(", ")}${contents.length > 3 ? ", …" : ""}): choose another folder, or --force to write into it.`,
    );
  }

  const template =
    opts.template ??
    (interactive
      ? answered(
          await p.select({
            message: "Template",
            options: templates.map((t) => ({ value: t.name, label: t.name, hint: t.description })),
            initialValue: templates.some((t) => t.name === DEFAULT_TEMPLATE)
              ? DEFAULT_TEMPLATE
              : templates[0]!.name,
          }),
        )
      : checkTemplate(DEFAULT_TEMPLATE, templates).name);
  const doInstall =
    interactive && opts.install
      ? answered(await p.confirm({ message: `Install dependencies now with ${pm}?` }))
      : opts.install;
  const doGit =
    interactive && opts.git
      ? answered(await p.confirm({ message: "Initialise a git repository?" }))
      : opts.git;

  mkdirSync(dir, { recursive: true });
  const info = generateApp({ dir, name, template, pm });
  const done: string[] = [`${info.name} template written to ${dir}`];
  p.log.success(done[0]!);

  if (doInstall) {
    // An animated spinner on a terminal; one line at the start and one at the end in a log.
    const spin = process.stdout.isTTY ? p.spinner() : lineSpinner();
    spin.start(`Installing dependencies with ${pm}`);
    try {
      await install(pm, dir);
      spin.stop(`Dependencies installed with ${pm}`);
      done.push(`dependencies installed with ${pm}`);
    } catch (err) {
      spin.error(`${pm} install failed`);
      const output = String((err as Error).cause ?? "").trim();
      p.log.error(
        `${(err as Error).message}. Its last lines:\n${output.split("\n").slice(-15).join("\n")}\n` +
          `The app is written; install it yourself: cd ${relative(base, dir) || "."} && ${pm} install`,
      );
      process.exitCode = 1;
    }
  }
  if (doGit && existsSync(dir)) {
    const git = gitInit(dir);
    p.log.info(git);
  }

  const rel = relative(base, dir);
  const cd = rel === "" ? "" : rel.startsWith("..") ? dir : rel;
  const first = [
    ...(cd ? [`cd ${/\s/.test(cd) ? JSON.stringify(cd) : cd}`] : []),
    ...(doInstall && process.exitCode !== 1 ? [] : [`${pm} install`]),
    runCommand(pm, "dev"),
  ].join(" && ");
  p.note(
    [
      first,
      runCommand(pm, "test"),
      "",
      "The first starts it with hot reload and prints its URL; the second runs its tests.",
      "README.md says what it shows and how to deploy it to Railway.",
    ].join("\n"),
    "Next",
  );
  if (interactive) p.outro("Done.");
}
