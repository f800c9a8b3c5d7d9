/**
 * On-screen sticks for touch screens: the left one moves, the right one aims and fires while
 * held. Pointer events with pointer capture, so both thumbs work at once; shown only on devices
 * whose main pointer is coarse (a finger).
 */
import { type PointerEvent, useRef, useState } from "react";
import type { Controls } from "../game/controls.js";

/** How far (px) the knob travels from the stick's centre: full speed at the rim. */
const STICK_RADIUS = 48;

export function useTouchScreen(): boolean {
  const [touch] = useState(
    () =>
      typeof window !== "undefined" &&
      (window.matchMedia?.("(pointer: coarse)").matches || navigator.maxTouchPoints > 0),
  );
  return touch;
}

export function TouchControls({ controls }: { controls: Controls }) {
  return (
    <div className="touch">
      <Stick side="left" label="Move" onChange={(v) => (controls.touch.move = v)} />
      <Stick
        side="right"
        label="Aim and fire"
        onChange={(v) => (controls.touch.aim = v ? Math.atan2(v.y, v.x) : null)}
      />
    </div>
  );
}

function Stick({
  side,
  label,
  onChange,
}: {
  side: "left" | "right";
  label: string;
  onChange(v: { x: number; y: number } | null): void;
}) {
  const base = useRef<HTMLDivElement>(null);
  const pointer = useRef<number | null>(null);
  const [knob, setKnob] = useState({ x: 0, y: 0 });

  function move(e: PointerEvent) {
    const rect = base.current!.getBoundingClientRect();
    let x = e.clientX - (rect.left + rect.width / 2);
    let y = e.clientY - (rect.top + rect.height / 2);
    const len = Math.hypot(x, y);
    if (len > STICK_RADIUS) {
      x = (x / len) * STICK_RADIUS;
      y = (y / len) * STICK_RADIUS;
    }
    setKnob({ x, y });
    // A little dead zone so that resting a thumb does not walk.
    onChange(len < 6 ? null : { x: x / STICK_RADIUS, y: y / STICK_RADIUS });
  }

  function release() {
    pointer.current = null;
    setKnob({ x: 0, y: 0 });
    onChange(null);
  }

  return (
    <div
      ref={base}
      className={`stick ${side}`}
      role="application"
      aria-label={label}
      data-testid={`stick-${side}`}
      onPointerDown={(e) => {
        if (e.pointerType === "mouse" || pointer.current !== null) return;
        pointer.current = e.pointerId;
        e.currentTarget.setPointerCapture(e.pointerId);
        move(e);
      }}
      onPointerMove={(e) => {
        if (e.pointerId === pointer.current) move(e);
      }}
      onPointerUp={(e) => {
        if (e.pointerId === pointer.current) release();
      }}
      onPointerCancel={(e) => {
        if (e.pointerId === pointer.current) release();
      }}
    >
      <div className="knob" style={{ transform: `translate(${knob.x}px, ${knob.y}px)` }} />
    </div>
  );
}
