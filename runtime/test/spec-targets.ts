// The targets the suites that go through troupe/client or the protocol run on: "node" (setupTest:
// the registry served in this process, memory storage) and "workerd" (the same registries bundled
// into fixtures/spec-examples/worker.ts and served by troupe/cloudflare on a real workerd process,
// one per test file). A test body gets a client and runs unchanged on both; a case that cannot
// hold on Workers by nature is declared with `nodeOnly(target, reason)` (runtime/README.md,
// "Cloudflare Workers", lists each difference and why).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AnyActorDefinition, Registry } from "troupe";
import { type Client, createClient } from "troupe/client";
import { type RunningWorkerd, startWorkerd } from "troupe/cloudflare/local";
import {
  type CapturedLogger,
  type ManualClock,
  type SetupTestOptions,
  setupTest,
  type TestRuntime,
} from "troupe/test";
import { afterAll, test } from "vitest";
import { DURABLE_OBJECTS } from "./fixtures/spec-examples/names.js";
import { clearRecorded, recorded } from "./fixtures/suites/seen.js";
import { type LoggedLine, logged, loggedText } from "./logged.js";

export type TargetName = "node" | "workerd";
export const TARGETS: TargetName[] = ["node", "workerd"];

export interface Served<R> {
  client: Client<R>;
  /** The registry's API base on this target. */
  endpoint: string;
  /** The server root (the Worker's own routes on workerd). */
  url: string;
  /**
   * Node only: the engine's in-process client (the app's own, trusted). On workerd it is the
   * Worker's `env.TROUPE`, reachable only through a route of the fixture Worker.
   */
  inProcess?: Client<R>;
  /** Node only: the manual clock (setupTest's default). */
  clock?: ManualClock;
  /** workerd only: what the process printed lately (the Worker's log lines among it). */
  output?: () => string;
  /** What the fixtures' hooks recorded in the list `name` (fixtures/suites/seen.ts). */
  seen(name: string): Promise<string[]>;
  /** Empties the list `name`. */
  clearSeen(name: string): Promise<void>;
  /**
   * Restarts the server on the same storage: on Node a new `setupTest` with the same options
   * (pass file storage for state to survive; the fields above then name the new server), on
   * workerd the file's workerd process, on its port and data directory.
   */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `test`, or on workerd a skipped test whose title says why: for a case that cannot hold on
 * Workers by nature (Node-only internals, a manual clock, sleep that is eviction there). Each
 * reason is listed in runtime/README.md ("Differences, and why").
 */
export function nodeOnly(target: TargetName, reason: string): typeof test {
  if (target === "node") return test;
  return ((name: string, ...rest: unknown[]) =>
    (test.skip as (...args: unknown[]) => void)(
      `${name} [Node only: ${reason}]`,
      ...rest,
    )) as unknown as typeof test;
}

/**
 * What the registry logged, as `logged()` shapes it: on Node from the capturing logger the
 * registry was set up with, on workerd from the Worker's lines in workerd's output (the fixture
 * Worker's registries log with the default logger). `keep` picks the test's own lines (the
 * Worker serves every suite's registry, and keeps logging between tests).
 */
export function loggedOn(
  t: Pick<Served<unknown>, "output">,
  logger: CapturedLogger,
  picked: string[],
  keep: (line: LoggedLine) => boolean = () => true,
): LoggedLine[] {
  const lines = t.output ? loggedText(t.output(), ...picked) : logged(logger, ...picked);
  return lines.filter(keep);
}

let worker: Promise<{ running: RunningWorkerd; dataDir: string }> | undefined;

// Registered when a test file imports this module (a hook added inside a running test would be
// ignored): stops the file's workerd, if one was started, after the file's tests.
afterAll(async () => {
  const w = await worker?.catch(() => undefined);
  worker = undefined;
  if (!w) return;
  await w.running.stop();
  await rm(w.dataDir, { recursive: true, force: true });
}, 30_000);

/** The file's workerd process, started on first use. */
function workerd(): Promise<RunningWorkerd> {
  worker ??= (async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "troupe-spec-workerd-"));
    const running = await startWorkerd({
      entry: join(import.meta.dirname, "fixtures/spec-examples/worker.ts"),
      dataDir,
      durableObjects: DURABLE_OBJECTS,
    });
    return { running, dataDir };
  })();
  return worker.then((w) => w.running);
}

/**
 * Serves `registry` on `target`. On workerd the registry must be one of the Worker's (same base
 * path); Durable Objects outlive a test there, so tests use keys of their own.
 */
export async function serve<TUse extends Record<string, AnyActorDefinition>>(
  target: TargetName,
  registry: Registry<TUse>,
  options: SetupTestOptions = {},
): Promise<Served<Registry<TUse>>> {
  if (target === "node") {
    const fromNode = (t: TestRuntime<Registry<TUse>>) => ({
      client: t.client,
      inProcess: t.engine.client() as Client<Registry<TUse>>,
      endpoint: t.endpoint,
      url: t.url,
      clock: t.clock,
      close: t.close,
    });
    const served: Served<Registry<TUse>> = {
      ...fromNode(await setupTest(registry, options)),
      seen: async (name) => recorded(name),
      clearSeen: async (name) => clearRecorded(name),
      restart: async () => {
        await served.close();
        Object.assign(served, fromNode(await setupTest(registry, options)));
      },
    };
    return served;
  }
  const running = await workerd();
  // The port is workerd's of the moment: a restart may move it.
  const fromWorkerd = () => {
    const endpoint = `${running.url}${registry.basePath}`;
    const client = createClient<Registry<TUse>>(endpoint);
    return { client, endpoint, url: running.url, close: () => client.dispose() };
  };
  const served: Served<Registry<TUse>> = {
    ...fromWorkerd(),
    output: () => running.output(),
    seen: async (name) => {
      const res = await fetch(`${served.url}/seen/${encodeURIComponent(name)}`);
      return (await res.json()) as string[];
    },
    clearSeen: async (name) => {
      await (
        await fetch(`${served.url}/seen/${encodeURIComponent(name)}`, { method: "DELETE" })
      ).text();
    },
    restart: async () => {
      await served.close();
      await running.restart();
      Object.assign(served, fromWorkerd());
    },
  };
  return served;
}
