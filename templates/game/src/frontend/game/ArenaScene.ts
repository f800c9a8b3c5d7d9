/**
 * The arena, drawn by Phaser 4: the map (floor, walls), players, bullets and health packs, with
 * the camera on the player. A player with spawn protection is drawn see-through inside a pulsing
 * ring (the shield bullets stop on), so nobody wonders why their shots do not hurt it. It owns
 * no game state: every frame it draws `session.frame()` (the own player predicted, the others
 * interpolated) and writes the keyboard and mouse into `session.controls`.
 */
import Phaser from "phaser";
import type { Seated } from "../../actors/match.js";
import type { EntityView } from "../../interest/interest.js";
import {
  MAP_HEIGHT,
  MAP_WIDTH,
  MAX_HEALTH,
  PICKUP_RADIUS,
  PLAYER_RADIUS,
  VIEW_HEIGHT,
  VIEW_MARGIN,
  VIEW_WIDTH,
} from "../../sim/constants.js";
import { WALLS } from "../../sim/map.js";
import { setProjection } from "./debug.js";
import type { MatchSession } from "./match-session.js";

const COLORS = {
  floor: 0x1b2030,
  grid: 0x262c40,
  wall: 0x59627d,
  wallEdge: 0x8a93b0,
  me: 0x4f9dff,
  human: 0xff7a45,
  bot: 0xc7a3ff,
  dead: 0x555b6e,
  bullet: 0xffe066,
  pack: 0x3ddc84,
  hpBack: 0x000000,
  hpFront: 0x3ddc84,
  hpLow: 0xff4d4f,
  shield: 0x9be7ff,
};

/** The shield's ring: its radius, and one pulse (grow and fade, then back) in milliseconds. */
const SHIELD_RADIUS = PLAYER_RADIUS + 5;
const SHIELD_PULSE_MS = 700;

interface PlayerSprite {
  kind: "p";
  root: Phaser.GameObjects.Container;
  body: Phaser.GameObjects.Arc;
  gun: Phaser.GameObjects.Rectangle;
  shield: Phaser.GameObjects.Arc;
  hp: Phaser.GameObjects.Rectangle;
  label: Phaser.GameObjects.Text;
}

interface SimpleSprite {
  kind: "b" | "h";
  root: Phaser.GameObjects.Shape | Phaser.GameObjects.Container;
}

type Sprite = PlayerSprite | SimpleSprite;

export class ArenaScene extends Phaser.Scene {
  private readonly sprites = new Map<string, Sprite>();
  private keys!: Record<
    "W" | "A" | "S" | "D" | "UP" | "DOWN" | "LEFT" | "RIGHT" | "SPACE",
    Phaser.Input.Keyboard.Key
  >;

  constructor(
    private readonly session: MatchSession,
    private readonly seats: () => Seated[],
  ) {
    super("arena");
  }

  create(): void {
    const g = this.add.graphics();
    g.fillStyle(COLORS.floor, 1).fillRect(0, 0, MAP_WIDTH, MAP_HEIGHT);
    g.lineStyle(1, COLORS.grid, 1);
    for (let x = 100; x < MAP_WIDTH; x += 100) g.lineBetween(x, 0, x, MAP_HEIGHT);
    for (let y = 100; y < MAP_HEIGHT; y += 100) g.lineBetween(0, y, MAP_WIDTH, y);
    g.lineStyle(4, COLORS.wallEdge, 1).strokeRect(0, 0, MAP_WIDTH, MAP_HEIGHT);
    for (const w of WALLS) {
      g.fillStyle(COLORS.wall, 1).fillRect(w.x, w.y, w.w, w.h);
      g.lineStyle(2, COLORS.wallEdge, 1).strokeRect(w.x, w.y, w.w, w.h);
    }
    const cam = this.cameras.main;
    cam.setBounds(-200, -200, MAP_WIDTH + 400, MAP_HEIGHT + 400);
    cam.setBackgroundColor(0x11141d);
    this.fitZoom();
    this.scale.on(Phaser.Scale.Events.RESIZE, () => this.fitZoom());

    const kb = this.input.keyboard;
    if (kb) {
      this.keys = kb.addKeys("W,A,S,D,UP,DOWN,LEFT,RIGHT,SPACE") as typeof this.keys;
    }
    this.input.mouse?.disableContextMenu();

    // For `window.__game.toScreen`: the camera's view of the world, in the canvas's CSS pixels.
    setProjection((x, y) => {
      const view = cam.worldView;
      const scale = this.scale.displayScale;
      return {
        x: (cam.x + (x - view.x) * cam.zoom) / scale.x,
        y: (cam.y + (y - view.y) * cam.zoom) / scale.y,
      };
    });
    this.events.once(Phaser.Scenes.Events.SHUTDOWN, () => setProjection(null));
    this.events.once(Phaser.Scenes.Events.DESTROY, () => setProjection(null));
  }

  /**
   * Zoomed so that what the canvas shows fits inside the area the server sends (the view plus
   * its margin) on both axes: nothing pops in at the edges, on a wide screen or a tall phone.
   */
  private fitZoom(): void {
    const { width, height } = this.scale.gameSize;
    const zoom = Math.max(
      width / (VIEW_WIDTH + 2 * VIEW_MARGIN),
      height / (VIEW_HEIGHT + 2 * VIEW_MARGIN),
    );
    this.cameras.main.setZoom(Math.min(zoom, 2));
  }

  override update(): void {
    const { session } = this;
    const frame = session.frame();
    this.readInput(frame.me);

    const seen = new Set<string>();
    const names = new Map(this.seats().map((s) => [s.entity, s]));
    for (const { view, pose } of frame.others) {
      seen.add(view.id);
      this.draw(view, pose.x, pose.y, pose.a, names.get(view.id), false);
    }
    if (frame.me && frame.you) {
      seen.add(frame.you);
      const me = frame.me;
      this.draw(
        {
          id: frame.you,
          k: "p",
          x: me.x,
          y: me.y,
          a: me.a,
          hp: me.hp,
          alive: me.alive,
          shielded: me.shielded,
        },
        me.x,
        me.y,
        me.a,
        names.get(frame.you),
        true,
      );
      this.cameras.main.centerOn(me.x, me.y);
    }
    for (const [id, sprite] of this.sprites) {
      if (seen.has(id)) continue;
      sprite.root.destroy();
      this.sprites.delete(id);
    }
  }

  private readInput(me: { x: number; y: number } | null): void {
    const c = this.session.controls;
    const k = this.keys;
    if (k) {
      c.keys.up = k.W.isDown || k.UP.isDown;
      c.keys.down = k.S.isDown || k.DOWN.isDown;
      c.keys.left = k.A.isDown || k.LEFT.isDown;
      c.keys.right = k.D.isDown || k.RIGHT.isDown;
      c.keys.fire = k.SPACE.isDown;
    }
    const pointer = this.input.activePointer;
    // Touch aims and fires with the on-screen sticks, not by touching the arena.
    if (me && !pointer.wasTouch) {
      const world = pointer.positionToCamera(this.cameras.main) as Phaser.Math.Vector2;
      c.mouse.aim = Math.atan2(world.y - me.y, world.x - me.x);
      c.mouse.fire = pointer.isDown;
    } else {
      c.mouse.fire = false;
    }
  }

  private draw(
    view: EntityView,
    x: number,
    y: number,
    a: number,
    seat: Seated | undefined,
    mine: boolean,
  ): void {
    let sprite = this.sprites.get(view.id);
    if (!sprite) {
      sprite = this.create_(view, seat, mine);
      this.sprites.set(view.id, sprite);
    }
    sprite.root.setPosition(x, y);
    if (sprite.kind === "p" && view.k === "p") {
      const color = !view.alive
        ? COLORS.dead
        : mine
          ? COLORS.me
          : seat?.bot
            ? COLORS.bot
            : COLORS.human;
      sprite.body.setFillStyle(color, !view.alive ? 0.5 : view.shielded ? 0.45 : 1);
      sprite.gun
        .setRotation(a)
        .setVisible(view.alive)
        .setAlpha(view.shielded ? 0.5 : 1);
      sprite.shield.setVisible(view.shielded);
      if (view.shielded) {
        const phase = (Math.sin((this.time.now / SHIELD_PULSE_MS) * 2 * Math.PI) + 1) / 2;
        sprite.shield.setScale(1 + 0.1 * phase).setAlpha(0.95 - 0.45 * phase);
      }
      const frac = Math.max(0, view.hp / MAX_HEALTH);
      sprite.hp.setSize(36 * frac, 4);
      sprite.hp.setFillStyle(frac < 0.35 ? COLORS.hpLow : COLORS.hpFront);
    } else if (sprite.kind === "h" && view.k === "h") {
      sprite.root.setAlpha(view.on ? 1 : 0.2);
    }
  }

  private create_(view: EntityView, seat: Seated | undefined, mine: boolean): Sprite {
    if (view.k === "b") {
      return { kind: "b", root: this.add.circle(view.x, view.y, 4, COLORS.bullet).setDepth(3) };
    }
    if (view.k === "h") {
      const arm = PICKUP_RADIUS * 0.45;
      const root = this.add.container(view.x, view.y, [
        this.add.circle(0, 0, PICKUP_RADIUS, COLORS.pack, 0.25),
        this.add.rectangle(0, 0, PICKUP_RADIUS * 1.4, arm, COLORS.pack),
        this.add.rectangle(0, 0, arm, PICKUP_RADIUS * 1.4, COLORS.pack),
      ]);
      return { kind: "h", root: root.setDepth(1) };
    }
    const body = this.add.circle(0, 0, PLAYER_RADIUS, mine ? COLORS.me : COLORS.human);
    body.setStrokeStyle(2, 0xffffff, mine ? 0.9 : 0.35);
    const gun = this.add.rectangle(0, 0, PLAYER_RADIUS + 10, 7, 0xe8ecf7).setOrigin(0, 0.5);
    const shield = this.add.circle(0, 0, SHIELD_RADIUS, COLORS.shield, 0.12);
    shield.setStrokeStyle(2.5, COLORS.shield, 0.9).setVisible(false);
    const hpBack = this.add.rectangle(-18, -PLAYER_RADIUS - 10, 36, 4, COLORS.hpBack, 0.6);
    hpBack.setOrigin(0, 0.5);
    const hp = this.add
      .rectangle(-18, -PLAYER_RADIUS - 10, 36, 4, COLORS.hpFront)
      .setOrigin(0, 0.5);
    const label = this.add
      .text(0, SHIELD_RADIUS + 3, seat?.name ?? view.id, {
        fontFamily: "system-ui, sans-serif",
        fontSize: "13px",
        color: mine ? "#cfe3ff" : "#e8ecf7",
      })
      .setOrigin(0.5, 0);
    const root = this.add.container(view.x, view.y, [gun, body, shield, hpBack, hp, label]);
    root.setDepth(mine ? 5 : 4);
    return { kind: "p", root, body, gun, shield, hp, label };
  }
}
