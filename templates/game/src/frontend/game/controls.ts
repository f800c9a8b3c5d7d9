/**
 * What the player wants right now, from the keyboard and mouse (set by the Phaser scene) or the
 * touch sticks (set by the on-screen controls). The match session reads it once per tick and
 * sends it as one input.
 */
export interface Controls {
  /** Keys held: movement from the keyboard. */
  keys: { up: boolean; down: boolean; left: boolean; right: boolean; fire: boolean };
  /** Mouse: aim angle (radians) and whether a button is held. */
  mouse: { aim: number | null; fire: boolean };
  /** Touch: the left stick's direction (length up to 1), the right stick's aim (fires). */
  touch: { move: { x: number; y: number } | null; aim: number | null };
}

export function createControls(): Controls {
  return {
    keys: { up: false, down: false, left: false, right: false, fire: false },
    mouse: { aim: null, fire: false },
    touch: { move: null, aim: null },
  };
}

/** The input of one tick: movement direction, aim and trigger. */
export function readControls(c: Controls, lastAim: number) {
  let dx = (c.keys.right ? 1 : 0) - (c.keys.left ? 1 : 0);
  let dy = (c.keys.down ? 1 : 0) - (c.keys.up ? 1 : 0);
  if (c.touch.move) {
    dx = c.touch.move.x;
    dy = c.touch.move.y;
  }
  const len = Math.hypot(dx, dy);
  if (len > 1) {
    dx /= len;
    dy /= len;
  }
  const aim = c.touch.aim ?? c.mouse.aim ?? lastAim;
  const fire = c.keys.fire || c.mouse.fire || c.touch.aim !== null;
  return { dx, dy, aim: normaliseAngle(aim), fire };
}

/** An angle in [-π, π], as the server accepts it. */
export function normaliseAngle(a: number): number {
  if (!Number.isFinite(a)) return 0;
  let r = a % (2 * Math.PI);
  if (r > Math.PI) r -= 2 * Math.PI;
  if (r < -Math.PI) r += 2 * Math.PI;
  return Math.max(-Math.PI, Math.min(Math.PI, r));
}
