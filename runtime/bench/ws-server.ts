// Benchmark target for connections, in its own process. BENCH_TARGET=bare-ws | memory | file.
// bare-ws: a plain `ws` server doing the same request/reply and fan-out work with no actor.
// memory / file: the runtime with that storage driver (file: the durable default, in a fresh
// temporary directory). These also answer GET on `statsPort` with the group committer's counters
// and the process's CPU time so far (cpuUs), so the bench can report how many actions each
// storage batch carried and the server's CPU time per action.
import { createServer } from "node:http";
import { actor, setup } from "troupe";
import { WebSocketServer } from "ws";

const target = process.env.BENCH_TARGET ?? "troupe";

if (target === "bare-ws") {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  let count = 0;
  wss.on("connection", (ws) => {
    ws.on("message", (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.t === "init") ws.send(JSON.stringify({ t: "welcome", connId: "x", actorId: "y" }));
      else if (msg.t === "action" && msg.name === "increment") {
        count += msg.args[0];
        ws.send(JSON.stringify({ t: "result", id: msg.id, output: count }));
      } else if (msg.t === "action" && msg.name === "fanout") {
        const [rounds, size] = msg.args as [number, number];
        const payload = "x".repeat(size);
        for (let r = 0; r < rounds; r++) {
          // Serialized and encoded once per round, as a careful hand-written server would.
          const frame = Buffer.from(JSON.stringify({ t: "event", name: "tick", args: [payload] }));
          for (const client of wss.clients)
            if (client !== ws) client.send(frame, { binary: false });
        }
        ws.send(JSON.stringify({ t: "result", id: msg.id, output: null }));
      }
    });
  });
  wss.on("listening", () => {
    const addr = wss.address() as { port: number };
    process.stdout.write(`${JSON.stringify({ port: addr.port, path: "/" })}\n`);
  });
} else {
  const counter = actor({
    state: { count: 0 },
    actions: {
      increment: (c, amount: number) => (c.state.count += amount),
      fanout: (c, rounds: number, size: number) => {
        const payload = "x".repeat(size);
        for (let r = 0; r < rounds; r++) c.broadcast("tick", payload);
      },
    },
    options: { sleepTimeout: 600_000 },
  });
  const storage =
    target === "file"
      ? ({
          driver: "file",
          // Made (and removed) by the bench: see startTarget in connections.ts.
          path: process.env.BENCH_STORE_DIR!,
        } as const)
      : ("memory" as const);
  const registry = setup({ use: { counter }, storage, maxOutgoingBuffer: 64 * 1024 * 1024 });
  const server = registry.serve({ port: 0, hostname: "127.0.0.1" });
  await server.ready;
  const { engine } = await registry.ensureRuntime();
  const stats = createServer((_req, res) => {
    const cpu = process.cpuUsage();
    res.end(JSON.stringify({ ...engine.committer.stats, cpuUs: cpu.user + cpu.system }));
  });
  await new Promise<void>((resolve) => stats.listen(0, "127.0.0.1", resolve));
  const statsPort = (stats.address() as { port: number }).port;
  process.stdout.write(
    `${JSON.stringify({ port: server.port, path: "/api/troupe/actors/connect", statsPort })}\n`,
  );
}
