/**
 * The simulation: one fixed step of the arena, a pure function of the world and the inputs of
 * that tick. The server runs it at `TICK_RATE_HZ`; the client runs `movePlayer` (the same
 * movement) to predict its own player. Nothing here reads the clock or `Math.random`: randomness
 * comes from the seeded generator whose state is part of the world, so a world and the same
 * inputs always give the same next world (the tests replay matches from a seed).
 *
 * Order within a step: the tick advances; each player in id order respawns (if its time came),
 * moves (speed capped, pushed out of walls), aims and fires (cooldown); then bullets fly (in
 * substeps: walls stop them, a player in the way is hit, and a shielded one absorbs the bullet
 * without harm: see `isShielded`); then health packs are picked up or come back. An update of one player that throws (a corrupt entity) removes that player and is
 * reported in the step's events; the others step on.
 *
 * @example
 * let world = createWorld(seedFrom("match-1"), ["p1", "p2"]);
 * const { world: next, events } = step(world, { p1: { dx: 1, dy: 0, aim: 0, fire: true } });
 */
import {
  BULLET_DAMAGE,
  BULLET_RADIUS,
  BULLET_SPEED_PER_TICK,
  BULLET_SUBSTEPS,
  BULLET_TTL_TICKS,
  FIRE_COOLDOWN_TICKS,
  MAP_HEIGHT,
  MAP_WIDTH,
  MAX_HEALTH,
  PICKUP_HEAL,
  PICKUP_RADIUS,
  PICKUP_RESPAWN_TICKS,
  PLAYER_RADIUS,
  PLAYER_SPEED_PER_TICK,
  RESPAWN_TICKS,
  SPAWN_PROTECTION_TICKS,
} from "./constants.js";
import { PICKUP_SPOTS, type Point, pointInWall, resolveCircle, SPAWN_POINTS } from "./map.js";
import { nextInt, type RngState } from "./rng.js";

/** What a player wants during one tick (already validated: see input.ts). */
export interface TickInput {
  /** Direction of movement; its length is capped at 1 (full speed). */
  dx: number;
  dy: number;
  /** Where it aims, in radians (0 = +x, clockwise on screen since y grows downwards). */
  aim: number;
  fire: boolean;
}

export interface PlayerEntity {
  id: string;
  x: number;
  y: number;
  aim: number;
  hp: number;
  alive: boolean;
  /** While dead: the tick at which it comes back. */
  respawnTick: number;
  /** The tick of its last shot (for the cooldown). */
  lastFireTick: number;
  /**
   * Spawn protection: shielded (no damage) while alive and the tick is below this. Set to
   * `SPAWN_PROTECTION_TICKS` after the tick it appears at; its first shot ends it.
   */
  shieldUntil: number;
  kills: number;
  deaths: number;
}

export interface Bullet {
  id: string;
  owner: string;
  x: number;
  y: number;
  vx: number;
  vy: number;
  expiresTick: number;
  /**
   * Where it was at tick `ot` (one tick before it was fired): a bullet flies straight at
   * (vx, vy) per tick, so it is at (ox + vx * n, oy + vy * n) n ticks later. Clients are told
   * this once and move it themselves (interest/wire.ts).
   */
  ox: number;
  oy: number;
  ot: number;
}

export interface Pickup {
  id: string;
  x: number;
  y: number;
  active: boolean;
  /** While taken: the tick at which it comes back. */
  respawnTick: number;
}

export interface World extends RngState {
  tick: number;
  nextBulletId: number;
  players: Record<string, PlayerEntity>;
  bullets: Bullet[];
  pickups: Pickup[];
}

export type SimEvent =
  | { type: "hit"; target: string; by: string; hp: number }
  /** A bullet stopped by a shielded player (spawn protection): spent, no damage. */
  | { type: "absorbed"; target: string; by: string }
  | { type: "kill"; victim: string; killer: string }
  | { type: "respawn"; id: string }
  | { type: "pickup"; id: string; by: string }
  | { type: "removed"; id: string; error: string };

export interface StepResult {
  world: World;
  events: SimEvent[];
}

const IDLE: TickInput = { dx: 0, dy: 0, aim: 0, fire: false };

/** A fresh world: the given players spawned (spawn points from the seed), health packs up. */
export function createWorld(seed: number, playerIds: readonly string[]): World {
  const world: World = {
    tick: 0,
    rng: seed | 0,
    nextBulletId: 1,
    players: {},
    bullets: [],
    pickups: PICKUP_SPOTS.map((p, i) => ({
      id: `h${i + 1}`,
      x: p.x,
      y: p.y,
      active: true,
      respawnTick: 0,
    })),
  };
  for (const id of playerIds) addPlayer(world, id);
  return world;
}

/** Puts a player into the world (alive, at a spawn point away from the others). */
export function addPlayer(world: World, id: string): PlayerEntity {
  const spawn = spawnPoint(world, id, world.players);
  const player: PlayerEntity = {
    id,
    x: spawn.x,
    y: spawn.y,
    aim: 0,
    hp: MAX_HEALTH,
    alive: true,
    respawnTick: 0,
    lastFireTick: -FIRE_COOLDOWN_TICKS,
    shieldUntil: world.tick + SPAWN_PROTECTION_TICKS,
    kills: 0,
    deaths: 0,
  };
  world.players[id] = player;
  return player;
}

/**
 * Whether `p` has spawn protection at `tick`: alive, appeared less than `SPAWN_PROTECTION_TICKS`
 * ago, and has not fired since. Bullets that reach it are spent without doing damage, and bots
 * do not fire at it.
 */
export function isShielded(p: PlayerEntity, tick: number): boolean {
  return p.alive && tick < p.shieldUntil;
}

/** How far a spawn must be from every living player to count as free. */
export const SPAWN_CLEARANCE = 4 * PLAYER_RADIUS;

/**
 * Where player `self` (re)appears: the first free spawn point (no living player within
 * `SPAWN_CLEARANCE`) from one the world's generator picks (`players` by id; `world.players` is
 * read first, as it holds the newer positions during a step). When every spawn point is taken
 * (more players than points), a free spot on rings around the least crowded one, so that no two
 * players appear on the same spot.
 */
function spawnPoint(
  world: World,
  self: string,
  players: Readonly<Record<string, PlayerEntity>>,
): Point {
  const others: PlayerEntity[] = [];
  for (const id of new Set([...Object.keys(world.players), ...Object.keys(players)])) {
    const p = world.players[id] ?? players[id];
    if (p?.alive && id !== self) others.push(p);
  }
  const clearance = (pt: Point) => {
    let least = Number.POSITIVE_INFINITY;
    for (const p of others) least = Math.min(least, Math.hypot(p.x - pt.x, p.y - pt.y));
    return least;
  };
  const n = SPAWN_POINTS.length;
  const start = nextInt(world, n);
  let best = SPAWN_POINTS[start]!;
  let bestClear = -1;
  for (let i = 0; i < n; i++) {
    const pt = SPAWN_POINTS[(start + i) % n]!;
    const c = clearance(pt);
    if (c >= SPAWN_CLEARANCE) return pt;
    if (c > bestClear) {
      best = pt;
      bestClear = c;
    }
  }
  for (let ring = 1; ring <= 4; ring++) {
    for (let k = 0; k < 8; k++) {
      const angle = (k / 8) * 2 * Math.PI;
      const r = ring * SPAWN_CLEARANCE;
      const x = Math.min(
        MAP_WIDTH - PLAYER_RADIUS,
        Math.max(PLAYER_RADIUS, best.x + Math.cos(angle) * r),
      );
      const y = Math.min(
        MAP_HEIGHT - PLAYER_RADIUS,
        Math.max(PLAYER_RADIUS, best.y + Math.sin(angle) * r),
      );
      const pt = resolveCircle(x, y, PLAYER_RADIUS);
      if (!pointInWall(pt.x, pt.y) && clearance(pt) >= SPAWN_CLEARANCE) return pt;
    }
  }
  return best;
}

/**
 * Where one tick of movement takes a player: the direction capped at length 1, times the top
 * speed, then pushed out of walls. Shared with the client's prediction.
 */
export function movePlayer(x: number, y: number, dx: number, dy: number): Point {
  const len = Math.hypot(dx, dy);
  const scale = len > 1 ? 1 / len : 1;
  return resolveCircle(
    x + dx * scale * PLAYER_SPEED_PER_TICK,
    y + dy * scale * PLAYER_SPEED_PER_TICK,
    PLAYER_RADIUS,
  );
}

function assertSound(p: PlayerEntity): void {
  if (!Number.isFinite(p.x) || !Number.isFinite(p.y) || !Number.isFinite(p.hp)) {
    throw new Error(`player ${p.id} has a position or health that is not a finite number`);
  }
}

/** One step. Does not change `world`: returns the next one and what happened. */
export function step(
  world: World,
  inputs: Readonly<Record<string, TickInput | undefined>>,
): StepResult {
  const next: World = {
    tick: world.tick + 1,
    rng: world.rng,
    nextBulletId: world.nextBulletId,
    players: {},
    bullets: world.bullets.map((b) => ({ ...b })),
    pickups: world.pickups.map((p) => ({ ...p })),
  };
  const events: SimEvent[] = [];

  // The players in id order, the order of every rule below: sorted once per step (it was once
  // per rule and once per health pack, a tenth of what the step allocated).
  const ordered: PlayerEntity[] = [];
  for (const id of Object.keys(world.players).sort()) {
    const player = { ...world.players[id]! };
    try {
      updatePlayer(next, player, inputs[id] ?? IDLE, events, world.players);
      assertSound(player);
      next.players[id] = player;
      ordered.push(player);
    } catch (err) {
      // The others step on; the caller logs it and drops the player for good.
      events.push({ type: "removed", id, error: (err as Error).message });
    }
  }

  flyBullets(next, ordered, events);
  updatePickups(next, ordered, events);
  return { world: next, events };
}

function updatePlayer(
  world: World,
  p: PlayerEntity,
  input: TickInput,
  events: SimEvent[],
  before: Readonly<Record<string, PlayerEntity>>,
): void {
  if (!p.alive) {
    if (world.tick < p.respawnTick) return;
    const spawn = spawnPoint(world, p.id, before);
    p.x = spawn.x;
    p.y = spawn.y;
    p.hp = MAX_HEALTH;
    p.alive = true;
    p.shieldUntil = world.tick + SPAWN_PROTECTION_TICKS;
    events.push({ type: "respawn", id: p.id });
  }
  const moved = movePlayer(p.x, p.y, input.dx, input.dy);
  p.x = moved.x;
  p.y = moved.y;
  p.aim = input.aim;
  if (input.fire && world.tick - p.lastFireTick >= FIRE_COOLDOWN_TICKS) {
    p.lastFireTick = world.tick;
    // Shooting gives up the spawn protection, from this tick on (before its bullet flies).
    if (p.shieldUntil > world.tick) p.shieldUntil = world.tick;
    const cos = Math.cos(p.aim);
    const sin = Math.sin(p.aim);
    const muzzle = PLAYER_RADIUS + BULLET_RADIUS + 1;
    const x = p.x + cos * muzzle;
    const y = p.y + sin * muzzle;
    world.bullets.push({
      id: `b${world.nextBulletId++}`,
      owner: p.id,
      x,
      y,
      vx: cos * BULLET_SPEED_PER_TICK,
      vy: sin * BULLET_SPEED_PER_TICK,
      expiresTick: world.tick + BULLET_TTL_TICKS,
      // It flies its first step in this same tick (flyBullets), so it was here a tick ago.
      ox: x,
      oy: y,
      ot: world.tick - 1,
    });
  }
}

/** Cell size of the per-tick grid of players that bullets are tested against (> the reach). */
const HIT_CELL = 64;
const cellKey = (cx: number, cy: number) => (cx + 1024) * 4096 + (cy + 1024);

/**
 * An empty cell, shared: most of the 36 cells a bullet looks at per tick are empty, and a fresh
 * `[]` for each was a tenth of what the server allocated in `bench:game`.
 */
const NO_PLAYERS: readonly number[] = [];

/**
 * The hit test's grid, kept between steps and emptied at the start of each (its cells' arrays
 * too, emptied rather than dropped): a fresh map and arrays every tick were garbage of every
 * match's every tick. Only `flyBullets` uses it, within one synchronous call.
 */
const hitCells = new Map<number, number[]>();
/** The cells of `hitCells` that the last step filled (the ones to empty). */
const filledCells: number[][] = [];

/** `targets`: the world's players in id order. */
function flyBullets(world: World, targets: readonly PlayerEntity[], events: SimEvent[]): void {
  const reach = PLAYER_RADIUS + BULLET_RADIUS;
  // Players by cell, so a bullet is tested against the few near it rather than everyone. Among
  // several players in reach, the first in id order is hit, as without the grid.
  const cells = hitCells;
  for (const cell of filledCells) cell.length = 0;
  filledCells.length = 0;
  if (cells.size > 4096) cells.clear(); // empty cells of positions long gone: start again
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (!t.alive) continue;
    const key = cellKey(Math.floor(t.x / HIT_CELL), Math.floor(t.y / HIT_CELL));
    let cell = cells.get(key);
    if (!cell) cells.set(key, (cell = []));
    if (cell.length === 0) filledCells.push(cell);
    cell.push(i);
  }
  // Bullets that fly on are kept in place: `world.bullets` is this step's own copy.
  const bullets = world.bullets;
  let flying = 0;
  for (const b of bullets) {
    if (world.tick > b.expiresTick) continue;
    let spent = false;
    // The position in locals, written back once: storing a fraction into the bullet at every
    // substep made a new heap number each time (a tenth of what a tick allocated).
    let x = b.x;
    let y = b.y;
    for (let s = 0; s < BULLET_SUBSTEPS && !spent; s++) {
      x += b.vx / BULLET_SUBSTEPS;
      y += b.vy / BULLET_SUBSTEPS;
      if (pointInWall(x, y)) {
        spent = true;
        break;
      }
      const cx = Math.floor(x / HIT_CELL);
      const cy = Math.floor(y / HIT_CELL);
      let hit = -1;
      for (let ox = -1; ox <= 1; ox++) {
        for (let oy = -1; oy <= 1; oy++) {
          for (const i of cells.get(cellKey(cx + ox, cy + oy)) ?? NO_PLAYERS) {
            const t = targets[i]!;
            if (!t.alive || t.id === b.owner || (hit >= 0 && i > hit)) continue;
            const dx = t.x - x;
            const dy = t.y - y;
            if (dx * dx + dy * dy <= reach * reach) hit = i;
          }
        }
      }
      if (hit < 0) continue;
      spent = true;
      const t = targets[hit]!;
      if (world.tick < t.shieldUntil) {
        // Absorbed rather than let through: the shot visibly stops at the shield, and does not
        // go on to hit whoever stands behind a player who has just appeared on a spawn point.
        events.push({ type: "absorbed", target: t.id, by: b.owner });
        continue;
      }
      t.hp = Math.max(0, t.hp - BULLET_DAMAGE);
      events.push({ type: "hit", target: t.id, by: b.owner, hp: t.hp });
      if (t.hp === 0) {
        t.alive = false;
        t.deaths += 1;
        t.respawnTick = world.tick + RESPAWN_TICKS;
        const shooter = world.players[b.owner];
        if (shooter) shooter.kills += 1;
        events.push({ type: "kill", victim: t.id, killer: b.owner });
      }
    }
    b.x = x;
    b.y = y;
    if (!spent) bullets[flying++] = b;
  }
  bullets.length = flying;
}

/** `players`: the world's players in id order. */
function updatePickups(world: World, players: readonly PlayerEntity[], events: SimEvent[]): void {
  const reach = PLAYER_RADIUS + PICKUP_RADIUS;
  for (const pickup of world.pickups) {
    if (!pickup.active) {
      if (world.tick >= pickup.respawnTick) pickup.active = true;
      else continue;
    }
    for (const p of players) {
      if (!p.alive || p.hp >= MAX_HEALTH) continue;
      const dx = p.x - pickup.x;
      const dy = p.y - pickup.y;
      if (dx * dx + dy * dy > reach * reach) continue;
      p.hp = Math.min(MAX_HEALTH, p.hp + PICKUP_HEAL);
      pickup.active = false;
      pickup.respawnTick = world.tick + PICKUP_RESPAWN_TICKS;
      events.push({ type: "pickup", id: pickup.id, by: p.id });
      break;
    }
  }
}
