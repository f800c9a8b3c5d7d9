import { describe, expect, it } from "vitest";
import { botInput } from "./bots.js";
import {
  BULLET_DAMAGE,
  FIRE_COOLDOWN_TICKS,
  MAX_HEALTH,
  PICKUP_HEAL,
  PICKUP_RESPAWN_TICKS,
  PLAYER_RADIUS,
  PLAYER_SPEED_PER_TICK,
  RESPAWN_TICKS,
  SPAWN_PROTECTION_TICKS,
} from "./constants.js";
import { PICKUP_SPOTS, pointInWall, SPAWN_POINTS, WALLS } from "./map.js";
import { seedFrom } from "./rng.js";
import {
  createWorld,
  isShielded,
  type SimEvent,
  SPAWN_CLEARANCE,
  step,
  type TickInput,
  type World,
} from "./step.js";

const IDS = ["p1", "p2", "p3", "p4", "p5", "p6"];

/** A match of bots only, `ticks` long: the final world and every event. */
function playBots(seed: number, ticks: number): { world: World; events: SimEvent[] } {
  let world = createWorld(seed, IDS);
  const events: SimEvent[] = [];
  for (let i = 0; i < ticks; i++) {
    const inputs: Record<string, TickInput> = {};
    for (const id of IDS) inputs[id] = botInput(world, id);
    const r = step(world, inputs);
    world = r.world;
    events.push(...r.events);
  }
  return { world, events };
}

/** The players' spawn protection taken away, as once it has run out. */
function unshielded(world: World): World {
  for (const p of Object.values(world.players)) p.shieldUntil = 0;
  return world;
}

/**
 * Two players on an open stretch of floor, facing each other along x; `shielded` keeps the
 * spawn protection they appear with (the other tests shoot as after it).
 */
function duel(distance: number, { shielded = false } = {}): World {
  const world = createWorld(1, ["a", "b"]);
  Object.assign(world.players.a!, { x: 100, y: 380, aim: 0 });
  Object.assign(world.players.b!, { x: 100 + distance, y: 380, aim: Math.PI });
  return shielded ? world : unshielded(world);
}

function run(world: World, ticks: number, inputs: Record<string, TickInput> = {}) {
  const events: SimEvent[] = [];
  for (let i = 0; i < ticks; i++) {
    const r = step(world, inputs);
    world = r.world;
    events.push(...r.events);
  }
  return { world, events };
}

const fireRight: TickInput = { dx: 0, dy: 0, aim: 0, fire: true };

describe("step", () => {
  it("replays a match exactly from its seed, and another seed plays differently", () => {
    const a = playBots(seedFrom("match-1"), 600);
    const b = playBots(seedFrom("match-1"), 600);
    expect(b.world).toEqual(a.world);
    expect(b.events).toEqual(a.events);
    // The bots really fought: the replay compares a match, not six idle players.
    expect(a.events.some((e) => e.type === "kill")).toBe(true);
    expect(a.events.some((e) => e.type === "respawn")).toBe(true);
    const c = playBots(seedFrom("match-2"), 600);
    expect(c.world).not.toEqual(a.world);
  });

  it("does not change the world it is given", () => {
    const world = duel(300);
    const before = structuredClone(world);
    step(world, { a: { dx: 1, dy: 1, aim: 0, fire: true } });
    expect(world).toEqual(before);
  });

  it("caps speed: a longer direction moves no further than full speed", () => {
    const world = duel(600);
    const { world: next } = step(world, { a: { dx: 0, dy: 50, aim: 0, fire: false } });
    expect(next.players.a!.y - world.players.a!.y).toBeCloseTo(PLAYER_SPEED_PER_TICK, 6);
    const { world: diagonal } = step(world, { a: { dx: 1, dy: 1, aim: 0, fire: false } });
    const moved = Math.hypot(
      diagonal.players.a!.x - world.players.a!.x,
      diagonal.players.a!.y - world.players.a!.y,
    );
    expect(moved).toBeCloseTo(PLAYER_SPEED_PER_TICK, 6);
  });

  it("stops players at walls and at the edge of the map", () => {
    const wall = WALLS[0]!;
    let world = createWorld(1, ["a"]);
    Object.assign(world.players.a!, { x: wall.x - 60, y: wall.y + wall.h / 2 });
    world = run(world, 40, { a: { dx: 1, dy: 0, aim: 0, fire: false } }).world;
    expect(world.players.a!.x).toBeCloseTo(wall.x - PLAYER_RADIUS, 6);
    Object.assign(world.players.a!, { x: 40, y: 40 });
    world = run(world, 20, { a: { dx: -1, dy: -1, aim: 0, fire: false } }).world;
    expect(world.players.a).toMatchObject({ x: PLAYER_RADIUS, y: PLAYER_RADIUS });
  });

  it("shoots: a bullet hits the player in its way, and the cooldown spaces shots", () => {
    const { world, events } = run(duel(200), FIRE_COOLDOWN_TICKS, { a: fireRight });
    expect(events).toContainEqual({
      type: "hit",
      target: "b",
      by: "a",
      hp: MAX_HEALTH - BULLET_DAMAGE,
    });
    expect(world.players.b!.hp).toBe(MAX_HEALTH - BULLET_DAMAGE);
    // Holding fire for 3 cooldowns fires 3 bullets, not one per tick.
    const held = run(duel(2000), FIRE_COOLDOWN_TICKS * 3, { a: fireRight });
    expect(held.world.nextBulletId - 1).toBe(3);
  });

  it("a bullet that reaches two players at once hits the first in id order", () => {
    for (const [by, cy] of [
      [372, 388], // neighbouring cells of the hit grid
      [388, 372],
      [376, 383], // one cell
    ] as const) {
      const world = unshielded(createWorld(1, ["a", "b", "c"]));
      Object.assign(world.players.a!, { x: 100, y: 380 });
      Object.assign(world.players.b!, { x: 300, y: by });
      Object.assign(world.players.c!, { x: 300, y: cy });
      const { events } = run(world, 6, { a: fireRight });
      expect(events.filter((e) => e.type === "hit")).toEqual([
        { type: "hit", target: "b", by: "a", hp: MAX_HEALTH - BULLET_DAMAGE },
      ]);
    }
  });

  it("walls stop bullets", () => {
    const wall = WALLS[5]!; // the vertical bar at x 250..280
    const world = createWorld(1, ["a", "b"]);
    Object.assign(world.players.a!, { x: 150, y: wall.y + 100 });
    Object.assign(world.players.b!, { x: 400, y: wall.y + 100 });
    const { events } = run(world, 20, { a: fireRight });
    expect(events.filter((e) => e.type === "hit")).toEqual([]);
  });

  it("kills after enough hits, counts kill and death, and respawns with full health", () => {
    let { world, events } = run(duel(200), 40, { a: fireRight });
    const kill = events.find((e) => e.type === "kill");
    expect(kill).toEqual({ type: "kill", victim: "b", killer: "a" });
    expect(events.filter((e) => e.type === "hit")).toHaveLength(MAX_HEALTH / BULLET_DAMAGE);
    expect(world.players.a!.kills).toBe(1);
    expect(world.players.b!.deaths).toBe(1);
    // Dead: it is not hit again and comes back after RESPAWN_TICKS, somewhere else.
    const deadAt = world.players.b!.respawnTick - RESPAWN_TICKS;
    ({ world, events } = run(world, world.players.b!.respawnTick - world.tick));
    expect(events).toContainEqual({ type: "respawn", id: "b" });
    expect(world.tick - deadAt).toBe(RESPAWN_TICKS);
    expect(world.players.b).toMatchObject({ alive: true, hp: MAX_HEALTH });
    expect(pointInWall(world.players.b!.x, world.players.b!.y)).toBe(false);
  });

  it("health packs heal the hurt, then come back later", () => {
    const spot = PICKUP_SPOTS[0]!;
    let world = createWorld(1, ["a"]);
    Object.assign(world.players.a!, { x: spot.x, y: spot.y, hp: 30 });
    let events: SimEvent[];
    ({ world, events } = run(world, 1));
    expect(events).toEqual([{ type: "pickup", id: "h1", by: "a" }]);
    expect(world.players.a!.hp).toBe(30 + PICKUP_HEAL);
    expect(world.pickups[0]!.active).toBe(false);
    // Taken: no second heal until it is back.
    ({ world, events } = run(world, PICKUP_RESPAWN_TICKS - 1));
    expect(world.players.a!.hp).toBe(30 + PICKUP_HEAL);
    ({ world, events } = run(world, 1));
    expect(world.players.a!.hp).toBe(MAX_HEALTH);
  });

  it("a player whose update fails is removed; the others step on", () => {
    const world = duel(300);
    world.players.b!.x = Number.NaN;
    const { world: next, events } = step(world, { a: { dx: 1, dy: 0, aim: 0, fire: false } });
    expect(events).toEqual([
      { type: "removed", id: "b", error: expect.stringContaining("not a finite number") },
    ]);
    expect(Object.keys(next.players)).toEqual(["a"]);
    expect(next.players.a!.x).toBeCloseTo(100 + PLAYER_SPEED_PER_TICK, 6);
  });

  it("spawns every player on a spot of its own, also with more players than spawn points", () => {
    for (const count of [2, SPAWN_POINTS.length, 16, 40]) {
      const ids = Array.from({ length: count }, (_, i) => `p${i + 1}`);
      const world = createWorld(seedFrom(`spawns-${count}`), ids);
      const spots = ids.map((id) => world.players[id]!);
      for (const p of spots) expect(pointInWall(p.x, p.y)).toBe(false);
      for (let i = 0; i < spots.length; i++) {
        for (let j = i + 1; j < spots.length; j++) {
          const d = Math.hypot(spots[i]!.x - spots[j]!.x, spots[i]!.y - spots[j]!.y);
          expect(d, `${ids[i]} and ${ids[j]} of ${count}`).toBeGreaterThanOrEqual(SPAWN_CLEARANCE);
        }
      }
      // Up to one per spawn point, each on a spawn point of its own.
      if (count <= SPAWN_POINTS.length) {
        const keys = new Set(spots.map((p) => `${p.x},${p.y}`));
        expect(keys.size).toBe(count);
        for (const p of spots) expect(SPAWN_POINTS).toContainEqual({ x: p.x, y: p.y });
      }
    }
  });

  it("respawns a player at a spawn point no living player stands on", () => {
    let world = duel(200);
    // Everyone else stands on every spawn point but the last one.
    const free = SPAWN_POINTS.at(-1)!;
    SPAWN_POINTS.slice(0, -1).forEach((pt, i) => {
      world.players[`x${i}`] = { ...world.players.a!, id: `x${i}`, x: pt.x, y: pt.y };
    });
    ({ world } = run(world, 40, { a: fireRight }));
    expect(world.players.b!.alive).toBe(false);
    ({ world } = run(world, world.players.b!.respawnTick - world.tick));
    expect(world.players.b).toMatchObject({ alive: true, x: free.x, y: free.y });
  });
});

describe("spawn protection", () => {
  const still: TickInput = { dx: 0, dy: 0, aim: 0, fire: false };

  it("a player who has just appeared absorbs bullets without harm, for whoever is behind it too", () => {
    const world = duel(200, { shielded: true });
    // c stands right behind b, unshielded: an absorbed bullet does not fly on into it.
    world.players.c = { ...world.players.b!, id: "c", x: 330, shieldUntil: 0 };
    const { world: after, events } = run(world, FIRE_COOLDOWN_TICKS * 3, { a: fireRight });
    const absorbed = events.filter((e) => e.type === "absorbed");
    expect(absorbed.length).toBeGreaterThanOrEqual(2);
    expect(absorbed[0]).toEqual({ type: "absorbed", target: "b", by: "a" });
    expect(events.filter((e) => e.type === "hit")).toEqual([]);
    expect(after.players.b!.hp).toBe(MAX_HEALTH);
    expect(after.players.c!.hp).toBe(MAX_HEALTH);
    expect(isShielded(after.players.b!, after.tick)).toBe(true);
    // The shooter gave its own up with its first shot.
    expect(isShielded(after.players.a!, after.tick)).toBe(false);
  });

  it("ends SPAWN_PROTECTION_TICKS after the player appeared, if it never fires", () => {
    let world = duel(200, { shielded: true });
    for (let i = 1; i < SPAWN_PROTECTION_TICKS; i++) {
      world = step(world, { b: still }).world;
      expect(isShielded(world.players.b!, world.tick), `tick ${world.tick}`).toBe(true);
    }
    world = step(world, { b: still }).world;
    expect(world.tick).toBe(SPAWN_PROTECTION_TICKS);
    expect(isShielded(world.players.b!, world.tick)).toBe(false);
    const { world: after, events } = run(world, FIRE_COOLDOWN_TICKS, { a: fireRight });
    expect(events).toContainEqual({
      type: "hit",
      target: "b",
      by: "a",
      hp: MAX_HEALTH - BULLET_DAMAGE,
    });
    expect(after.players.b!.hp).toBe(MAX_HEALTH - BULLET_DAMAGE);
  });

  it("ends the moment the player fires, before its own bullet flies", () => {
    let world = duel(200, { shielded: true });
    world = step(world, { b: { dx: 0, dy: 0, aim: Math.PI, fire: true } }).world;
    expect(world.tick).toBeLessThan(SPAWN_PROTECTION_TICKS);
    expect(isShielded(world.players.b!, world.tick)).toBe(false);
    // a keeps its own (it does not fire) and absorbs b's shot; b, exposed, takes a's later ones.
    world.players.a!.aim = 0;
    let events: SimEvent[];
    ({ world, events } = run(world, 4, { a: still }));
    expect(events).toContainEqual({ type: "absorbed", target: "a", by: "b" });
    ({ world, events } = run(world, 4, { a: fireRight }));
    expect(events).toContainEqual({
      type: "hit",
      target: "b",
      by: "a",
      hp: MAX_HEALTH - BULLET_DAMAGE,
    });
  });

  it("comes back with every respawn", () => {
    let { world } = run(duel(200), 40, { a: fireRight });
    expect(world.players.b!.alive).toBe(false);
    expect(isShielded(world.players.b!, world.tick)).toBe(false); // the dead have none
    let events: SimEvent[];
    ({ world, events } = run(world, world.players.b!.respawnTick - world.tick));
    expect(events).toContainEqual({ type: "respawn", id: "b" });
    const respawnedAt = world.tick;
    expect(isShielded(world.players.b!, world.tick)).toBe(true);
    // Shot at from where it appeared (a turns to it and fires): no damage until it runs out.
    const b = world.players.b!;
    const aim = Math.atan2(b.y - world.players.a!.y, b.x - world.players.a!.x);
    Object.assign(world.players.a!, { x: b.x - 150 * Math.cos(aim), y: b.y - 150 * Math.sin(aim) });
    const shoot = { a: { dx: 0, dy: 0, aim, fire: true } };
    ({ world, events } = run(world, SPAWN_PROTECTION_TICKS - 1, shoot));
    expect(events.filter((e) => e.type === "hit")).toEqual([]);
    expect(events.some((e) => e.type === "absorbed")).toBe(true);
    expect(world.players.b!.hp).toBe(MAX_HEALTH);
    ({ world, events } = run(world, FIRE_COOLDOWN_TICKS * 2, shoot));
    expect(world.tick - respawnedAt).toBeGreaterThan(SPAWN_PROTECTION_TICKS);
    expect(world.players.b!.hp).toBeLessThan(MAX_HEALTH);
  });

  it("bots aim at a shielded player but hold their fire until the shield is gone", () => {
    let world = duel(300, { shielded: true });
    const held = botInput(world, "a");
    expect(held.fire).toBe(false);
    expect(held.aim).toBeCloseTo(0, 6); // tracking b all the same
    world = run(world, SPAWN_PROTECTION_TICKS, { a: still, b: still }).world;
    // a is no longer shielded either, so b's answer is the same once its own time is up.
    expect(botInput(world, "a").fire).toBe(true);
    // A target that fires gives its shield up at once, and the bot fires back.
    const early = duel(300, { shielded: true });
    const fired = step(early, { b: { dx: 0, dy: 0, aim: Math.PI, fire: true } }).world;
    expect(botInput(fired, "a").fire).toBe(true);
  });

  it("bots go for a player they can hurt before a nearer one with a shield", () => {
    const world = duel(300, { shielded: true });
    // c, further away on the other side of a and without a shield: a turns to it and fires.
    world.players.c = { ...world.players.b!, id: "c", x: 100, y: 380 + 450, shieldUntil: 0 };
    const input = botInput(world, "a");
    expect(input.aim).toBeCloseTo(Math.PI / 2, 6);
    expect(input.fire).toBe(true);
    // Out of sight, c does not count: a keeps tracking b, holding its fire.
    world.players.c.y = 380 + 800;
    expect(botInput(world, "a")).toMatchObject({ aim: 0, fire: false });
  });

  it("in a bots' match, nobody is ever hurt while shielded, and every respawn brings a shield", () => {
    let world = createWorld(seedFrom("shields"), IDS);
    const counts = { absorbed: 0, respawns: 0, hits: 0 };
    for (let i = 0; i < 1200; i++) {
      const inputs: Record<string, TickInput> = {};
      for (const id of IDS) inputs[id] = botInput(world, id);
      const r = step(world, inputs);
      const tick = r.world.tick;
      // Shielded while the bullets flew: after the step (a shot of its own this tick ends it).
      const shielded = (id: string) => tick < r.world.players[id]!.shieldUntil;
      for (const e of r.events) {
        if (e.type === "hit") {
          counts.hits += 1;
          expect(shielded(e.target), `${e.target} hit at tick ${tick}`).toBe(false);
        } else if (e.type === "absorbed") {
          counts.absorbed += 1;
          expect(shielded(e.target)).toBe(true);
        } else if (e.type === "respawn") {
          counts.respawns += 1;
          expect(isShielded(r.world.players[e.id]!, tick)).toBe(true);
        }
      }
      for (const id of IDS) {
        if (!shielded(id) || !world.players[id]!.alive) continue;
        expect(r.world.players[id]!.hp).toBeGreaterThanOrEqual(world.players[id]!.hp);
      }
      world = r.world;
    }
    expect(counts.respawns).toBeGreaterThan(0);
    expect(counts.hits).toBeGreaterThan(counts.respawns);
    // Bots hold their fire at shields: what reaches one is a shot meant for someone else.
    expect(counts.absorbed).toBeLessThan(counts.hits / 4);
  });
});
