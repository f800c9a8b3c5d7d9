/**
 * The game's numbers, in one place: the server's loop, the client's prediction and the tests all
 * read them from here. Distances are in world units (one unit is one pixel at zoom 1), times in
 * ticks unless the name says otherwise.
 */

/** Simulation steps per second: the server's fixed-step loop runs at this rate. */
export const TICK_RATE_HZ = 20;
/** One step, in milliseconds. */
export const TICK_MS = 1000 / TICK_RATE_HZ;
/** Snapshots sent to each player per second (each one a delta against the last it received). */
export const SEND_RATE_HZ = 20;
/** A snapshot goes out every this many ticks. */
export const SEND_EVERY_TICKS = TICK_RATE_HZ / SEND_RATE_HZ;

/** The arena. */
export const MAP_WIDTH = 1600;
export const MAP_HEIGHT = 1200;

export const PLAYER_RADIUS = 16;
/** Top speed; a player never moves further than this per tick, whatever it sends. */
export const PLAYER_SPEED = 220;
export const PLAYER_SPEED_PER_TICK = PLAYER_SPEED / TICK_RATE_HZ;
export const MAX_HEALTH = 100;
/** Dead for this long before respawning. */
export const RESPAWN_TICKS = 2 * TICK_RATE_HZ;
/**
 * Spawn protection: for this long after a player appears (the match's start, every respawn) it
 * takes no damage, unless it fires first, which ends it at once. 1.5 s: about the time to see
 * where one is and walk out of a spawn point (330 units, further than a bot keeps from its
 * target) before anyone can hurt you, and short enough that a player who has just appeared
 * cannot use it to walk up to someone: firing ends it, and the bots hold their fire meanwhile.
 */
export const SPAWN_PROTECTION_TICKS = Math.round(1.5 * TICK_RATE_HZ);

export const BULLET_SPEED = 900;
export const BULLET_SPEED_PER_TICK = BULLET_SPEED / TICK_RATE_HZ;
/** A bullet's step is cut in this many parts for hit tests, so it cannot jump over a player. */
export const BULLET_SUBSTEPS = 4;
export const BULLET_RADIUS = 4;
/** A bullet flies for this long (then it is gone). */
export const BULLET_TTL_TICKS = Math.round(0.8 * TICK_RATE_HZ);
export const BULLET_DAMAGE = 25;
/** At most one shot per this many ticks (4 shots per second). */
export const FIRE_COOLDOWN_TICKS = 5;

/** A health pack heals this much, then comes back after `PICKUP_RESPAWN_TICKS`. */
export const PICKUP_HEAL = 50;
export const PICKUP_RADIUS = 14;
export const PICKUP_RESPAWN_TICKS = 10 * TICK_RATE_HZ;

/**
 * What a player sees around itself (the client's camera shows this much at zoom 1), plus a
 * margin so that entities are known a little before they come into sight.
 */
export const VIEW_WIDTH = 960;
export const VIEW_HEIGHT = 640;
export const VIEW_MARGIN = 120;
/** Side of a cell of the spatial grid used to find what is in a view. */
export const GRID_CELL = 200;
