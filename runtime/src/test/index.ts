/**
 * `troupe/test`: run a registry in-process on a random port with a typed client, on memory
 * storage and a manual clock unless told otherwise.
 *
 * @example
 * const t = await setupTest(registry);
 * await t.client.counter.getOrCreate(["a"]).increment(1);
 * await t.clock.advance(31_000); // past sleepTimeout: the actor sleeps
 * await t.close();
 */

import type { Server } from "node:http";
import { type ServerType, serve } from "@hono/node-server";
import type { AnyActorDefinition } from "../actor/definition.js";
import { createClient } from "../client/index.js";
import type { Client } from "../client/types.js";
import { type Clock, ManualClock, systemClock } from "../clock.js";
import { attachWebSockets } from "../protocol/node-ws.js";
import type { Engine } from "../registry/engine.js";
import type { Registry } from "../registry/registry.js";
import type { StorageOption } from "../storage/open.js";

export { ManualClock } from "../clock.js";
export { freePort } from "../free-port.js";
export { errorOf } from "./error-of.js";
export { type CapturedLogger, captureLogger, type LogEntry } from "./logger.js";
export {
  type RawRequestOptions,
  type RawResponse,
  rawRequest,
  repeatedChunks,
} from "./raw-request.js";
export { proxyUrl, startTcpProxy, type TcpProxy } from "./tcp-proxy.js";
export { type WaitOptions, waitFor } from "./wait.js";

export interface SetupTestOptions {
  /** Storage for this test. Default: memory. */
  storage?: StorageOption;
  /** `"manual"` (default) gives a ManualClock in `clock`; `"system"` uses real time. */
  clock?: "manual" | "system" | Clock;
}

export interface TestRuntime<R> {
  client: Client<R>;
  /** Server root, e.g. http://127.0.0.1:41234 */
  url: string;
  /** API base, e.g. http://127.0.0.1:41234/api/troupe */
  endpoint: string;
  clock: ManualClock;
  engine: Engine;
  close(): Promise<void>;
}

type TestContextLike = { onTestFinished?: (fn: () => void | Promise<void>) => void };

export async function setupTest<TUse extends Record<string, AnyActorDefinition>>(
  ...args:
    | [registry: Registry<TUse>, options?: SetupTestOptions]
    | [ctx: TestContextLike, registry: Registry<TUse>, options?: SetupTestOptions]
): Promise<TestRuntime<Registry<TUse>>> {
  const [ctx, registry, options = {}] =
    "config" in args[0]
      ? [undefined, args[0] as Registry<TUse>, args[1] as SetupTestOptions | undefined]
      : [
          args[0] as TestContextLike,
          args[1] as Registry<TUse>,
          args[2] as SetupTestOptions | undefined,
        ];
  const clock =
    options.clock === "system"
      ? systemClock
      : options.clock instanceof Object && "now" in options.clock
        ? options.clock
        : new ManualClock();
  const { engine, app } = await registry.createRuntime({
    storage: options.storage ?? "memory",
    clock,
  });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const sockets = attachWebSockets(server as unknown as Server, engine, registry.webSocketOptions);
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const endpoint = `${url}${registry.basePath}`;
  let closed = false;
  const runtime: TestRuntime<Registry<TUse>> = {
    client: createClient<Registry<TUse>>(endpoint),
    url,
    endpoint,
    clock: clock as ManualClock,
    engine,
    close: async () => {
      if (closed) return;
      closed = true;
      // No new work; then actors stop, so connections see 1001 and can reconnect elsewhere.
      sockets.stopAccepting();
      const stopped = new Promise<void>((r) => server.close(() => r()));
      await engine.close();
      sockets.close();
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await stopped;
    },
  };
  ctx?.onTestFinished?.(() => runtime.close());
  return runtime;
}
