// `pnpm bench` (second part): connections next to a bare `ws` server doing the same work.
//  - actions over one connection with 1 and 32 in flight (request/reply round trips per second),
//    on the memory driver and on the durable default (file driver), with the actions each
//    storage batch carried and how long batches were with the driver, alone and two at once
//    (the file driver writes the next batch while one syncs), from the group committer's counters
//  - broadcast fan-out to 1000 connections (events delivered per second)
//  - connections opened per second (open + init + welcome; bare ws: open)
// Raw `ws` clients generate the load (they only count frames), servers run in child processes,
// rounds are interleaved (bare / memory / file in each) and medians reported.
// BENCH_SECONDS / BENCH_ROUNDS tune it; BENCH_WS_PARTS=actions skips the other parts.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "troupe/client";
import WebSocket from "ws";
import { type ChildServer, spawnServer } from "../test/support.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FANOUT_CONNS = Number(process.env.BENCH_FANOUT_CONNS ?? 1000);
const FANOUT_ROUNDS = 50;
const OPEN_COUNT = 500;
const TARGETS = ["bare-ws", "memory", "file"] as const;
type Target = (typeof TARGETS)[number];
const PARTS = (process.env.BENCH_WS_PARTS ?? "actions,client,fanout,opens").split(",");
const IN_FLIGHT = [1, 32];

/** The group committer's counters (`GroupCommitter.stats`). */
interface CommitStats {
  batches: number;
  writes: number;
  calls: number;
  busyMs: number;
  overlapMs: number;
  /** The server process's CPU time so far (user + system), microseconds. */
  cpuUs: number;
}

interface RunningTarget {
  server: ChildServer;
  /** The file target's data directory, removed when the bench ends. */
  dataDir?: string;
  url: string;
  /** The group committer's counters (troupe targets only). */
  stats?: () => Promise<CommitStats>;
}

async function startTarget(target: Target): Promise<RunningTarget> {
  // Made here, not in the child: the child is killed, so it could not clean up after itself.
  const dataDir =
    target === "file"
      ? await mkdtemp(join(process.env.BENCH_DATA_DIR ?? tmpdir(), "troupe-bench-ws-"))
      : undefined;
  const server = await spawnServer(join(import.meta.dirname, "ws-server.ts"), {
    BENCH_TARGET: target,
    TROUPE_LOG_LEVEL: "error",
    ...(dataDir ? { BENCH_STORE_DIR: dataDir } : {}),
  });
  const { statsPort } = server.info;
  return {
    server,
    dataDir,
    url: `ws://127.0.0.1:${server.info.port}${server.info.path}`,
    stats:
      statsPort === undefined
        ? undefined
        : async () =>
            (await fetch(`http://127.0.0.1:${statsPort}/`)).json() as Promise<CommitStats>,
  };
}

const INIT = JSON.stringify({
  t: "init",
  actor: { name: "counter", key: ["bench"], mode: "getOrCreate" },
});

/** Opens a connection and completes the handshake (welcome). */
function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("error", reject);
    ws.once("open", () => ws.send(INIT));
    ws.once("message", () => resolve(ws));
  });
}

async function actionsInFlight(url: string, inFlight: number) {
  const ws = await connect(url);
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let nextId = 1;
  let stop = false;
  const send = () => {
    const id = nextId++;
    sentAt.set(id, performance.now());
    ws.send(`{"t":"action","id":${id},"name":"increment","args":[1]}`);
  };
  await new Promise<void>((resolve) => {
    ws.on("message", (data) => {
      const text = data.toString();
      const id = Number(/"id":(\d+)/.exec(text)?.[1]);
      const t0 = sentAt.get(id);
      if (t0 === undefined) return;
      sentAt.delete(id);
      latencies.push(performance.now() - t0);
      if (!stop) send();
      else if (sentAt.size === 0) resolve();
    });
    for (let i = 0; i < inFlight; i++) send();
    setTimeout(() => {
      stop = true;
    }, SECONDS * 1000);
  });
  ws.close();
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.floor(q * (latencies.length - 1))]!;
  return {
    actions: latencies.length,
    rate: latencies.length / SECONDS,
    p50: pick(0.5),
    p99: pick(0.99),
  };
}

/** The typed client over a connection (handle.connect()), with `inFlight` callers. */
async function typedClient(wsUrl: string, inFlight: number) {
  const client = createClient(wsUrl.replace(/^ws/, "http").replace(/\/api\/troupe.*$/, ""));
  const conn = client.counter.getOrCreate(["bench"]).connect();
  await conn.increment(0);
  const latencies: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await conn.increment(1);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  await conn.dispose();
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => latencies[Math.floor(q * (latencies.length - 1))]!;
  return { rate: latencies.length / SECONDS, p50: pick(0.5), p99: pick(0.99) };
}

async function fanout(url: string) {
  const conns: WebSocket[] = [];
  for (let i = 0; i < FANOUT_CONNS; i += 50) {
    conns.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, FANOUT_CONNS - i) }, () => connect(url)),
      )),
    );
  }
  let received = 0;
  const expected = FANOUT_CONNS * FANOUT_ROUNDS;
  let done!: () => void;
  const allIn = new Promise<void>((r) => {
    done = r;
  });
  for (const ws of conns) {
    ws.send('{"t":"sub","event":"tick"}');
    ws.on("message", () => {
      if (++received === expected) done();
    });
  }
  const control = await connect(url);
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  control.send(`{"t":"action","id":1,"name":"fanout","args":[${FANOUT_ROUNDS},100]}`);
  await allIn;
  const elapsed = (performance.now() - t0) / 1000;
  for (const ws of [...conns, control]) ws.terminate();
  return { rate: expected / elapsed };
}

async function opens(url: string, handshake: boolean) {
  const t0 = performance.now();
  const all: WebSocket[] = [];
  for (let i = 0; i < OPEN_COUNT; i += 25) {
    all.push(
      ...(await Promise.all(
        Array.from({ length: 25 }, () =>
          handshake
            ? connect(url)
            : new Promise<WebSocket>((resolve, reject) => {
                const ws = new WebSocket(url);
                ws.once("open", () => resolve(ws));
                ws.once("error", reject);
              }),
        ),
      )),
    );
  }
  const rate = OPEN_COUNT / ((performance.now() - t0) / 1000);
  for (const ws of all) ws.terminate();
  return { rate };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const servers = new Map<Target, RunningTarget>();
  for (const t of TARGETS) servers.set(t, await startTarget(t));
  const samples = new Map<string, number[]>();
  const add = (k: string, v: number) => samples.set(k, [...(samples.get(k) ?? []), v]);
  try {
    for (const t of TARGETS) await actionsInFlight(servers.get(t)!.url, 8); // warm up
    for (let round = 1; round <= ROUNDS; round++) {
      for (const inFlight of IN_FLIGHT) {
        for (const t of TARGETS) {
          const { url, stats } = servers.get(t)!;
          const before = await stats?.();
          const startedAt = performance.now();
          const r = await actionsInFlight(url, inFlight);
          const elapsed = performance.now() - startedAt;
          const after = await stats?.();
          add(`${t}|actions|${inFlight}|rate`, r.rate);
          add(`${t}|actions|${inFlight}|p50`, r.p50);
          add(`${t}|actions|${inFlight}|p99`, r.p99);
          if (before && after) {
            const batches = after.batches - before.batches;
            add(`${t}|actions|${inFlight}|perBatch`, r.actions / batches);
            add(`${t}|actions|${inFlight}|busy`, (after.busyMs - before.busyMs) / elapsed);
            add(`${t}|actions|${inFlight}|overlap`, (after.overlapMs - before.overlapMs) / elapsed);
            add(`${t}|actions|${inFlight}|cpu`, (after.cpuUs - before.cpuUs) / r.actions);
          }
        }
      }
      for (const t of TARGETS) {
        const url = servers.get(t)!.url;
        if (t !== "bare-ws" && PARTS.includes("client")) {
          for (const inFlight of IN_FLIGHT) {
            const r = await typedClient(url, inFlight);
            add(`${t}|client|${inFlight}|rate`, r.rate);
            add(`${t}|client|${inFlight}|p50`, r.p50);
            add(`${t}|client|${inFlight}|p99`, r.p99);
          }
        }
        // Fan-out and opens do not touch storage: the memory target stands for the runtime.
        if (t === "file") continue;
        if (PARTS.includes("fanout")) add(`${t}|fanout`, (await fanout(url)).rate);
        if (PARTS.includes("opens")) add(`${t}|opens`, (await opens(url, t !== "bare-ws")).rate);
      }
      process.stderr.write(`round ${round}/${ROUNDS} done\n`);
    }
  } finally {
    for (const s of servers.values()) {
      await s.server.kill();
      if (s.dataDir) await rm(s.dataDir, { recursive: true, force: true });
    }
  }
  const m = (k: string) => median(samples.get(k) ?? [Number.NaN]);
  const ms = (k: string) => `${m(`${k}|p50`).toFixed(2)} / ${m(`${k}|p99`).toFixed(2)}`;
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

  const rows: string[][] = [
    [
      "actions over one connection",
      "bare ws",
      "memory",
      "file",
      "memory/bare",
      "file/bare",
      "file/memory",
    ],
  ];
  for (const inFlight of IN_FLIGHT) {
    const [b, mem, file] = TARGETS.map((t) => m(`${t}|actions|${inFlight}|rate`)) as [
      number,
      number,
      number,
    ];
    rows.push([
      `actions/s, ${inFlight} in flight`,
      b.toFixed(0),
      mem.toFixed(0),
      file.toFixed(0),
      x(mem, b),
      x(file, b),
      x(file, mem),
    ]);
    rows.push([
      `  p50 / p99 ms`,
      ms(`bare-ws|actions|${inFlight}`),
      ms(`memory|actions|${inFlight}`),
      ms(`file|actions|${inFlight}`),
      "",
      "",
      "",
    ]);
    rows.push([
      `  actions per storage batch (fsync)`,
      "",
      m(`memory|actions|${inFlight}|perBatch`).toFixed(1),
      m(`file|actions|${inFlight}|perBatch`).toFixed(1),
      "",
      "",
      "",
    ]);
    rows.push([
      `  server CPU per action, µs`,
      "",
      m(`memory|actions|${inFlight}|cpu`).toFixed(1),
      m(`file|actions|${inFlight}|cpu`).toFixed(1),
      "",
      "",
      "",
    ]);
    rows.push([
      `  time a batch was with the driver`,
      "",
      `${(100 * m(`memory|actions|${inFlight}|busy`)).toFixed(0)}%`,
      `${(100 * m(`file|actions|${inFlight}|busy`)).toFixed(0)}%`,
      "",
      "",
      "",
    ]);
    rows.push([
      `  time two batches were (overlapping writes)`,
      "",
      `${(100 * m(`memory|actions|${inFlight}|overlap`)).toFixed(0)}%`,
      `${(100 * m(`file|actions|${inFlight}|overlap`)).toFixed(0)}%`,
      "",
      "",
      "",
    ]);
    if (PARTS.includes("client")) {
      rows.push([
        `  typed client actions/s`,
        "",
        `${m(`memory|client|${inFlight}|rate`).toFixed(0)} (${ms(`memory|client|${inFlight}`)})`,
        `${m(`file|client|${inFlight}|rate`).toFixed(0)} (${ms(`file|client|${inFlight}`)})`,
        "",
        "",
        "",
      ]);
    }
  }
  const print = (title: string, table: string[][]) => {
    const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    console.log(title ? `\n${title}` : "");
    for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  "));
  };
  print(
    `Connections, ${SECONDS}s per run, median of ${ROUNDS} interleaved rounds (${new Date().toISOString()})`,
    rows,
  );
  const other: string[][] = [["measure", "bare ws", "troupe (memory)", "troupe / bare"]];
  const fb = m("bare-ws|fanout");
  const ft = m("memory|fanout");
  if (PARTS.includes("fanout")) {
    other.push([
      `fan-out events/s to ${FANOUT_CONNS} conns`,
      fb.toFixed(0),
      ft.toFixed(0),
      x(ft, fb),
    ]);
  }
  if (PARTS.includes("opens")) {
    other.push([
      "connections opened/s",
      m("bare-ws|opens").toFixed(0),
      m("memory|opens").toFixed(0),
      "(troupe: + init/welcome)",
    ]);
  }
  if (other.length > 1) print("", other);
  const a32 = (t: Target) => m(`${t}|actions|32|rate`);
  console.log(
    `\nconnection actions at 32 in flight: memory ${x(a32("memory"), a32("bare-ws"))} bare ws (target >= 0.7x)`,
  );
  console.log(
    `connection actions at 32 in flight: file ${x(a32("file"), a32("memory"))} memory (target >= 0.5x)`,
  );
  if (PARTS.includes("fanout")) console.log(`fan-out: ${x(ft, fb)} bare ws (target >= 0.8x)`);
  process.exit(0);
}

await main();
