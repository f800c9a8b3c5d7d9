import { describe, expect, it } from "vitest";
import { parseInput } from "../../input/input.js";
import { createControls, normaliseAngle, readControls } from "./controls.js";

describe("readControls", () => {
  it("turns keys into a direction of length at most 1", () => {
    const c = createControls();
    expect(readControls(c, 0)).toEqual({ dx: 0, dy: 0, aim: 0, fire: false });
    c.keys.right = true;
    c.keys.down = true;
    const r = readControls(c, 0);
    expect(Math.hypot(r.dx, r.dy)).toBeCloseTo(1);
    expect(r.dx).toBeCloseTo(r.dy);
  });

  it("a touch stick wins over the keyboard, and aiming with the right stick fires", () => {
    const c = createControls();
    c.keys.left = true;
    c.touch.move = { x: 0.5, y: 0 };
    c.touch.aim = Math.PI / 2;
    c.mouse.aim = 0;
    expect(readControls(c, 0)).toEqual({ dx: 0.5, dy: 0, aim: Math.PI / 2, fire: true });
  });

  it("keeps the last aim when nothing aims", () => {
    expect(readControls(createControls(), 1.25).aim).toBe(1.25);
  });

  it("always gives an input the server's guard accepts", () => {
    const c = createControls();
    for (const aim of [0, 3.5, -7, 100, Number.NaN]) {
      c.mouse.aim = aim;
      c.touch.move = { x: 1, y: 1 };
      const r = readControls(c, 0);
      expect(
        parseInput({ seq: 1, dx: r.dx, dy: r.dy, aimAngle: r.aim, fire: r.fire }),
      ).toBeTruthy();
    }
    expect(normaliseAngle(3 * Math.PI)).toBeCloseTo(Math.PI);
  });
});
