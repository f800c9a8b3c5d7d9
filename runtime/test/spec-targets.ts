// The targets the spec-examples tests run on: "node" (setupTest: the registry served in this
// process, memory storage) and "workerd" (the same registries bundled into
// fixtures/spec-examples/worker.ts and served by troupe/cloudflare on a real workerd process, one
// per test file). A test body gets a client and runs unchanged on both.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AnyActorDefinition, Registry } from "troupe";
import { type Client, createClient } from "troupe/client";
import { type RunningWorkerd, startWorkerd } from "troupe/cloudflare/local";
import { type ManualClock, type SetupTestOptions, setupTest } from "troupe/test";
import { afterAll } from "vitest";
import { DURABLE_OBJECTS } from "./fixtures/spec-examples/names.js";

export type TargetName = "node" | "workerd";
export const TARGETS: TargetName[] = ["node", "workerd"];

export interface Served<R> {
  client: Client<R>;
  /** The registry's API base on this target. */
  endpoint: string;
  /** The server root (the Worker's own routes on workerd). */
  url: string;
  /** Node only: the manual clock (setupTest's default). */
  clock?: ManualClock;
  /** workerd only: what the process printed lately (the Worker's log lines among it). */
  output?: () => string;
  close(): Promise<void>;
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
    const t = await setupTest(registry, options);
    return { client: t.client, endpoint: t.endpoint, url: t.url, clock: t.clock, close: t.close };
  }
  const running = await workerd();
  const endpoint = `${running.url}${registry.basePath}`;
  const client = createClient<Registry<TUse>>(endpoint);
  return {
    client,
    endpoint,
    url: running.url,
    output: () => running.output(),
    close: () => client.dispose(),
  };
}
