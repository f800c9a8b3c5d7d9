// `pnpm bench` (second part): connections next to a bare `ws` server doing the same work.
//  - actions over one connection with 1 and 32 in flight (request/reply round trips per second)
//  - broadcast fan-out to 1000 connections (events delivered per second)
//  - connections opened per second (open + init + welcome; bare ws: open)
// Raw `ws` clients generate the load (they only count frames), servers run in child processes,
// rounds are interleaved and medians reported. BENCH_SECONDS / BENCH_ROUNDS tune it.

import { join } from "node:path";
import { createClient } from "troupe/client";
import WebSocket from "ws";
import { type ChildServer, spawnServer } from "../test/support.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FANOUT_CONNS = Number(process.env.BENCH_FANOUT_CONNS ?? 1000);
const FANOUT_ROUNDS = 50;
const OPEN_COUNT = 500;
const TARGETS = ["bare-ws", "troupe"] as const;
type Target = (typeof TARGETS)[number];

async function startTarget(target: Target): Promise<{ server: ChildServer; url: string }> {
  const server = await spawnServer(join(import.meta.dirname, "ws-server.ts"), {
    BENCH_TARGET: target,
    TROUPE_LOG_LEVEL: "error",
  });
  return { server, url: `ws://127.0.0.1:${server.info.port}${server.info.path}` };
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
  return { rate: latencies.length / SECONDS, p50: pick(0.5), p99: pick(0.99) };
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
  const servers = new Map<Target, { server: ChildServer; url: string }>();
  for (const t of TARGETS) servers.set(t, await startTarget(t));
  const samples = new Map<string, number[]>();
  const add = (k: string, v: number) => samples.set(k, [...(samples.get(k) ?? []), v]);
  try {
    for (const t of TARGETS) await actionsInFlight(servers.get(t)!.url, 8); // warm up
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of TARGETS) {
        const url = servers.get(t)!.url;
        for (const inFlight of [1, 32]) {
          const r = await actionsInFlight(url, inFlight);
          add(`${t}|actions|${inFlight}|rate`, r.rate);
          add(`${t}|actions|${inFlight}|p50`, r.p50);
          add(`${t}|actions|${inFlight}|p99`, r.p99);
        }
        if (t === "troupe") {
          for (const inFlight of [1, 32]) {
            const r = await typedClient(url, inFlight);
            add(`client|${inFlight}|rate`, r.rate);
            add(`client|${inFlight}|p50`, r.p50);
            add(`client|${inFlight}|p99`, r.p99);
          }
        }
        add(`${t}|fanout`, (await fanout(url)).rate);
        add(`${t}|opens`, (await opens(url, t === "troupe")).rate);
      }
      process.stderr.write(`round ${round}/${ROUNDS} done\n`);
    }
  } finally {
    for (const s of servers.values()) await s.server.kill();
  }
  const m = (k: string) => median(samples.get(k)!);
  const rows: string[][] = [["measure", "bare ws", "troupe", "troupe / bare"]];
  for (const inFlight of [1, 32]) {
    const b = m(`bare-ws|actions|${inFlight}|rate`);
    const tr = m(`troupe|actions|${inFlight}|rate`);
    rows.push([
      `actions/s, ${inFlight} in flight`,
      b.toFixed(0),
      tr.toFixed(0),
      `${(tr / b).toFixed(2)}x`,
    ]);
    rows.push([
      `  typed client, ${inFlight} in flight`,
      "",
      `${m(`client|${inFlight}|rate`).toFixed(0)} (${m(`client|${inFlight}|p50`).toFixed(2)} / ${m(`client|${inFlight}|p99`).toFixed(2)} ms)`,
      "",
    ]);
    rows.push([
      `  p50 / p99 ms, ${inFlight} in flight`,
      `${m(`bare-ws|actions|${inFlight}|p50`).toFixed(2)} / ${m(`bare-ws|actions|${inFlight}|p99`).toFixed(2)}`,
      `${m(`troupe|actions|${inFlight}|p50`).toFixed(2)} / ${m(`troupe|actions|${inFlight}|p99`).toFixed(2)}`,
      "",
    ]);
  }
  const fb = m("bare-ws|fanout");
  const ft = m("troupe|fanout");
  rows.push([
    `fan-out events/s to ${FANOUT_CONNS} conns`,
    fb.toFixed(0),
    ft.toFixed(0),
    `${(ft / fb).toFixed(2)}x`,
  ]);
  rows.push([
    "connections opened/s",
    m("bare-ws|opens").toFixed(0),
    m("troupe|opens").toFixed(0),
    "(troupe: + init/welcome)",
  ]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(
    `\nConnections, ${SECONDS}s per run, median of ${ROUNDS} interleaved rounds (${new Date().toISOString()})`,
  );
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  "));
  console.log(
    `\nconnection actions at 32 in flight: ${(m("troupe|actions|32|rate") / m("bare-ws|actions|32|rate")).toFixed(2)}x bare ws (target >= 0.7x)`,
  );
  console.log(`fan-out: ${(ft / fb).toFixed(2)}x bare ws (target >= 0.8x)`);
  process.exit(0);
}

await main();
