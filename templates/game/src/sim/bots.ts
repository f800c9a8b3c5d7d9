/**
 * Bots: what a bot does in a tick, decided from the world alone (no randomness of its own, no
 * clock), so matches with bots replay exactly from a seed too. A bot goes for the nearest living
 * player it can see (one without spawn protection first), keeps some distance and strafes around
 * it, and shoots when its target is in range and in sight and not shielded (it keeps aiming at a
 * shielded one and fires once the shield is gone); with nobody in sight it walks between spawn
 * points.
 */
import { PLAYER_SPEED_PER_TICK } from "./constants.js";
import { lineOfSight, SPAWN_POINTS } from "./map.js";
import { isShielded, type PlayerEntity, type TickInput, type World } from "./step.js";

/** How far a bot looks for a target. */
export const BOT_SIGHT = 700;
/** Distance a bot keeps from its target (it strafes there). */
export const BOT_KEEP_DISTANCE = 260;
/** A bot shoots at targets nearer than this. */
export const BOT_FIRE_RANGE = 600;
/** Ticks between changes of strafing direction. */
const STRAFE_TICKS = 30;

/** A small stable number from an id, to vary bots' habits. */
function idHash(id: string): number {
  let h = 7;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) | 0;
  return Math.abs(h);
}

export function botInput(world: World, botId: string): TickInput {
  const me = world.players[botId];
  if (!me?.alive) return { dx: 0, dy: 0, aim: 0, fire: false };
  // The nearest player in sight, preferring one without a shield: a bot does not wait out a
  // player's spawn protection while someone it can hurt is in sight.
  let target: PlayerEntity | undefined;
  let targetShielded = true;
  let best = BOT_SIGHT * BOT_SIGHT;
  for (const id of Object.keys(world.players).sort()) {
    if (id === botId) continue;
    const other = world.players[id]!;
    if (!other.alive) continue;
    const shielded = isShielded(other, world.tick);
    if (shielded && !targetShielded) continue;
    const d2 = (other.x - me.x) ** 2 + (other.y - me.y) ** 2;
    if (d2 >= BOT_SIGHT * BOT_SIGHT) continue;
    if ((d2 < best || (targetShielded && !shielded)) && lineOfSight(me, other)) {
      best = d2;
      target = other;
      targetShielded = shielded;
    }
  }
  const hash = idHash(botId);
  if (!target) {
    const waypoint = SPAWN_POINTS[(Math.floor(world.tick / 200) + hash) % SPAWN_POINTS.length]!;
    const dx = waypoint.x - me.x;
    const dy = waypoint.y - me.y;
    const len = Math.hypot(dx, dy);
    if (len < PLAYER_SPEED_PER_TICK) return { dx: 0, dy: 0, aim: me.aim, fire: false };
    return { dx: dx / len, dy: dy / len, aim: Math.atan2(dy, dx), fire: false };
  }
  let dx = target.x - me.x;
  let dy = target.y - me.y;
  if (Math.hypot(dx, dy) < 1) {
    // On top of each other (bots spawned at the same point): without a direction they would
    // stand still and shoot past each other forever. Each bot backs off its own way.
    const angle = (hash % 360) * (Math.PI / 180);
    dx = -Math.cos(angle);
    dy = -Math.sin(angle);
  }
  const dist = Math.hypot(dx, dy);
  const aim = Math.atan2(dy, dx);
  const side = (Math.floor((world.tick + hash) / STRAFE_TICKS) + hash) % 2 === 0 ? 1 : -1;
  // Towards the target when far, away when too close, and sideways around it.
  const approach = dist > BOT_KEEP_DISTANCE ? 1 : -0.5;
  const mx = (dx / dist) * approach + (-dy / dist) * side * 0.7;
  const my = (dy / dist) * approach + (dx / dist) * side * 0.7;
  const len = Math.hypot(mx, my) || 1;
  const fire = dist < BOT_FIRE_RANGE && !isShielded(target, world.tick);
  return { dx: mx / len, dy: my / len, aim, fire };
}
