/**
 * The arena's layout: walls (axis-aligned rectangles), spawn points and health packs, plus the
 * geometry the step function and the bots use (circle against walls, a point in a wall, line of
 * sight). The outer edge of the map is a wall too: positions are clamped inside it.
 */
import { MAP_HEIGHT, MAP_WIDTH } from "./constants.js";

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Point {
  x: number;
  y: number;
}

export const WALLS: readonly Rect[] = [
  { x: 700, y: 520, w: 200, h: 160 },
  { x: 300, y: 250, w: 240, h: 30 },
  { x: 1060, y: 250, w: 240, h: 30 },
  { x: 300, y: 920, w: 240, h: 30 },
  { x: 1060, y: 920, w: 240, h: 30 },
  { x: 250, y: 450, w: 30, h: 300 },
  { x: 1320, y: 450, w: 30, h: 300 },
  { x: 760, y: 200, w: 80, h: 80 },
  { x: 760, y: 920, w: 80, h: 80 },
];

export const SPAWN_POINTS: readonly Point[] = [
  { x: 100, y: 100 },
  { x: 1500, y: 100 },
  { x: 100, y: 1100 },
  { x: 1500, y: 1100 },
  { x: 800, y: 80 },
  { x: 800, y: 1120 },
  { x: 100, y: 600 },
  { x: 1500, y: 600 },
];

export const PICKUP_SPOTS: readonly Point[] = [
  { x: 560, y: 600 },
  { x: 1040, y: 600 },
  { x: 800, y: 420 },
  { x: 800, y: 780 },
];

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(v, hi));
}

/** The circle at (x, y) pushed out of every wall and kept inside the map. */
export function resolveCircle(x: number, y: number, r: number): Point {
  for (const wall of WALLS) {
    const cx = clamp(x, wall.x, wall.x + wall.w);
    const cy = clamp(y, wall.y, wall.y + wall.h);
    const dx = x - cx;
    const dy = y - cy;
    const d2 = dx * dx + dy * dy;
    if (d2 >= r * r) continue;
    if (d2 > 0) {
      const d = Math.sqrt(d2);
      x = cx + (dx / d) * r;
      y = cy + (dy / d) * r;
    } else {
      // The centre is inside the wall: out through the nearest side.
      const left = x - wall.x;
      const right = wall.x + wall.w - x;
      const top = y - wall.y;
      const bottom = wall.y + wall.h - y;
      const least = Math.min(left, right, top, bottom);
      if (least === left) x = wall.x - r;
      else if (least === right) x = wall.x + wall.w + r;
      else if (least === top) y = wall.y - r;
      else y = wall.y + wall.h + r;
    }
  }
  return { x: clamp(x, r, MAP_WIDTH - r), y: clamp(y, r, MAP_HEIGHT - r) };
}

export function pointInWall(x: number, y: number): boolean {
  if (x < 0 || y < 0 || x > MAP_WIDTH || y > MAP_HEIGHT) return true;
  for (const wall of WALLS) {
    if (x >= wall.x && x <= wall.x + wall.w && y >= wall.y && y <= wall.y + wall.h) return true;
  }
  return false;
}

/** Whether the segment from a to b crosses no wall (sampled every 8 units). */
export function lineOfSight(a: Point, b: Point): boolean {
  const steps = Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / 8);
  for (let i = 1; i < steps; i++) {
    const t = i / steps;
    if (pointInWall(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t)) return false;
  }
  return true;
}
