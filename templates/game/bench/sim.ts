/**
 * In-process figures of the match's per-tick work, without sockets: the step, the bots and
 * every player's snapshot (`SnapshotEncoder`, as the match does each tick), and the size of the snapshot
 * frames as the runtime sends them (the compact payload of interest/wire.ts, and for comparison
 * the same deltas as whole JSON objects). It says what the loop costs on this machine and how
 * many bytes the snapshots take per player; the end-to-end figures (real WebSocket clients
 * in another process, CPU, jitter, input-to-visible latency) are `bench:game`'s.
 *
 *   pnpm --filter @troupe/template-game bench:sim            # 16 and 100 players, 60 s of play
 *   BENCH_PLAYERS=100 BENCH_SECONDS=30 pnpm --filter @troupe/template-game bench:sim
 */
import { applyDelta, type EntityView } from "../src/interest/interest.js";
import { SnapshotEncoder, SnapshotReceiver } from "../src/interest/snapshots.js";
import { decodeSnapshot } from "../src/interest/wire.js";
import { botInput } from "../src/sim/bots.js";
import { TICK_MS, TICK_RATE_HZ } from "../src/sim/constants.js";
import { seedFrom } from "../src/sim/rng.js";
import { createWorld, step, type TickInput } from "../src/sim/step.js";

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

function run(players: number, seconds: number) {
  const ids = Array.from({ length: players }, (_, i) => `p${i + 1}`);
  let world = createWorld(seedFrom(`bench-${players}`), ids);
  const snapshots = new SnapshotEncoder();
  const receivers = new Map(ids.map((id) => [id, new SnapshotReceiver()]));
  // What each client holds, to show the same deltas as whole JSON objects (outside the timing).
  const copies = new Map(ids.map((id) => [id, new Map<string, EntityView>()]));
  const ticks = seconds * TICK_RATE_HZ;
  const durations: number[] = [];
  let bytes = 0;
  let objectBytes = 0;
  let frames = 0;
  const sent: { id: string; frame: string }[] = [];
  for (let t = 0; t < ticks; t++) {
    const started = performance.now();
    const inputs: Record<string, TickInput> = {};
    for (const id of ids) if (world.players[id]) inputs[id] = botInput(world, id);
    world = step(world, inputs).world;
    snapshots.update(world);
    sent.length = 0;
    for (const id of ids) {
      const me = world.players[id];
      if (!me) continue;
      // What the runtime writes to the socket for `conn.send("snapshot", …)`.
      const payload = snapshots.encode(receivers.get(id)!, me.x, me.y, t);
      const frame = JSON.stringify({ t: "event", name: "snapshot", args: [payload] });
      bytes += frame.length;
      frames += 1;
      sent.push({ id, frame });
    }
    durations.push(performance.now() - started);
    // Read back as a client does, outside the timing.
    for (const { id, frame } of sent) {
      const copy = copies.get(id)!;
      const delta = decodeSnapshot(JSON.parse(frame).args[0], copy);
      applyDelta(copy, delta);
      objectBytes += JSON.stringify({ t: "event", name: "snapshot", args: [delta] }).length;
    }
  }
  const perClientPerSecond = bytes / players / seconds;
  return {
    players,
    ticks,
    tickMsP50: percentile(durations, 0.5),
    tickMsP99: percentile(durations, 0.99),
    loopShare: (durations.reduce((a, b) => a + b, 0) / (ticks * TICK_MS)) * 100,
    bytesPerFrame: bytes / frames,
    kbPerClientPerSecond: perClientPerSecond / 1000,
    objectKbPerClientPerSecond: objectBytes / players / seconds / 1000,
  };
}

const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const counts = process.env.BENCH_PLAYERS ? [Number(process.env.BENCH_PLAYERS)] : [16, 100];
console.log(`simulation + interest management, ${seconds} s of play per row, bots only`);
console.log(
  "players  tick p50 ms  tick p99 ms  loop share of one core  bytes/snapshot  KB/client/s  (as JSON objects)",
);
for (const n of counts) {
  const r = run(n, seconds);
  console.log(
    `${String(r.players).padStart(7)}  ${r.tickMsP50.toFixed(3).padStart(11)}  ${r.tickMsP99
      .toFixed(3)
      .padStart(11)}  ${`${r.loopShare.toFixed(1)} %`.padStart(22)}  ${r.bytesPerFrame
      .toFixed(0)
      .padStart(
        14,
      )}  ${r.kbPerClientPerSecond.toFixed(2).padStart(11)}  ${r.objectKbPerClientPerSecond
      .toFixed(2)
      .padStart(17)}`,
  );
}
