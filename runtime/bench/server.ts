// A benchmark target in its own process (so the load generator does not share its event loop).
// BENCH_TARGET=bare | memory | file | postgres. Prints {"port":N} when ready.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { actor, setup } from "troupe";

const target = process.env.BENCH_TARGET ?? "memory";

if (target === "bare") {
  // The practical ceiling: the same JSON round trip on a bare Hono route, no actor in between.
  const counts = new Map<string, number>();
  const app = new Hono();
  app.post("/api/troupe/actors/action/:action", async (c) => {
    const body = (await c.req.json()) as { actor: { key: string[] }; args: [number] };
    const k = JSON.stringify(body.actor.key);
    const next = (counts.get(k) ?? 0) + body.args[0];
    counts.set(k, next);
    return c.json({ output: next });
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
    process.stdout.write(`${JSON.stringify({ port: info.port })}\n`);
  });
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
} else {
  const counter = actor({
    state: { count: 0 },
    actions: { increment: (c, amount: number) => (c.state.count += amount) },
    options: { sleepTimeout: 600_000 },
  });
  const storage =
    target === "file"
      ? ({
          driver: "file",
          // Made (and removed) by the bench; a temporary directory when run on its own.
          path: process.env.BENCH_STORE_DIR || mkdtempSync(join(tmpdir(), "troupe-bench-")),
        } as const)
      : target === "postgres"
        ? ({
            driver: "postgres",
            connectionString: process.env.BENCH_DATABASE_URL!,
            schema: `troupe_bench_${process.pid}`,
          } as const)
        : ("memory" as const);
  const registry = setup({ use: { counter }, storage });
  const server = registry.serve({ port: 0, hostname: "127.0.0.1" });
  await server.ready;
  process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
  process.on("SIGTERM", async () => {
    await server.close();
    process.exit(0);
  });
}
