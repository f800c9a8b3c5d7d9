/**
 * One player's live connection to a match: joins with the ticket, turns the match's events into
 * what the page shows, sends the player's input once per tick, measures the ping, and keeps the
 * ticket for coming back after a reload or a dropped network.
 *
 * - Snapshots are read with `snapshotFromWire` (the compact format of `interest/wire.ts`, against
 *   the entities this page knows) into the `EntityTable` (others, interpolated; bullets moved
 *   from their one record) and the `Predictor` (the player's own entity). A snapshot that cannot
 *   be read means this copy is out of step with the server's: the session logs it once, asks the
 *   match for a full snapshot (`resync`), and applies nothing until that arrives (a reconnect
 *   brings one too), rather than drawing a stale or wrong world.
 * - Scores: the whole table comes once on (re)connecting (and with a `resync`); each kill a
 *   snapshot carries then updates it with the server's own `applyKill`, and goes to the feed.
 *   The kills are read on their own (`killsFromWire`), so they count even in a snapshot whose
 *   entities this page cannot apply.
 * - Inputs: one per tick (`TICK_MS`), never faster, so the server's rate limit (30/s with
 *   bursts of 15) is never reached; none while the connection is down (the client would queue
 *   them and send them in a burst). `fire` is sent at most once per `MIN_FIRE_INTERVAL_MS`.
 * - Reconnecting: the runtime's client reconnects by itself with `getParams`, which returns the
 *   newest ticket; the view says `reconnecting` meanwhile. The ticket and match id are in
 *   sessionStorage, so a reload rejoins the same seat within the grace.
 * - The view (`getView`) is an immutable object replaced on every change, for React's
 *   `useSyncExternalStore`; the scene reads `frame()` every animation frame.
 */
import type { Client } from "troupe/client";
import type { GameRegistry, ScoreLine, WelcomeEvent } from "../../actors/index.js";
import type { Phase } from "../../actors/match.js";
import type { MatchResults } from "../../db/results.js";
import { forWire, MIN_FIRE_INTERVAL_MS } from "../../input/input.js";
import type { EntityView } from "../../interest/interest.js";
import { TICK_MS } from "../../sim/constants.js";
import { applyKill } from "../../sim/scores.js";
import { reasonOf } from "../lib/errors.js";
import { saveMatch } from "../lib/storage.js";
import { type EntityPose, EntityTable, isOwnBullet } from "../net/entities.js";
import { Predictor } from "../net/prediction.js";
import { killsFromWire, type Snapshot, snapshotFromWire } from "../net/wire.js";
import { type Controls, createControls, readControls } from "./controls.js";

/** How often the round trip is measured. */
export const PING_INTERVAL_MS = 1000;
/** Round trips averaged (median) for the display. */
const PING_SAMPLES = 5;

export type MatchResultsEvent = MatchResults & { ratingsAfter: Record<string, number> };

export type SessionStatus = "connecting" | "connected" | "reconnecting" | "closed";

export interface MatchView {
  matchId: string;
  status: SessionStatus;
  /** The player's entity id, once welcomed. */
  you: string | null;
  phase: Phase | null;
  /** Server times (ms since the epoch on the server's clock: compare with `serverNow()`). */
  startsAt: number | null;
  endsAt: number | null;
  seats: WelcomeEvent["seats"];
  scores: ScoreLine[];
  hp: number | null;
  alive: boolean;
  /** Spawn protection: the player takes no damage until it runs out or the player fires. */
  shielded: boolean;
  pingMs: number | null;
  /** Recent kills, newest first. */
  feed: { killer: string; victim: string; at: number }[];
  results: MatchResultsEvent | null;
  /** Why the session ended for good (a refusal or the server closing it); null while playing. */
  error: unknown;
}

export interface Frame {
  you: string | null;
  me: { x: number; y: number; a: number; hp: number; alive: boolean; shielded: boolean } | null;
  others: EntityPose[];
}

type MatchConn = ReturnType<ReturnType<Client<GameRegistry>["match"]["get"]>["connect"]>;

export class MatchSession {
  readonly controls: Controls = createControls();
  readonly table = new EntityTable();
  readonly predictor = new Predictor();
  private view: MatchView;
  private readonly listeners = new Set<() => void>();
  private conn: MatchConn | undefined;
  private ticket: string;
  private seq = 0;
  private lastAim = 0;
  private lastFireAt = Number.NEGATIVE_INFINITY;
  /** The `seq` of the last input sent with `fire`, and the last one a snapshot acknowledged. */
  private lastFireSeq = -1;
  private acked = -1;
  private predicting = false;
  /** A snapshot could not be read: waiting for the full one asked for (`resync`). */
  private resyncing = false;
  private inputTimer: ReturnType<typeof setInterval> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pings: { rtt: number; offset: number }[] = [];
  /** Server clock minus this page's clock (ms), from the pings. */
  private clockOffset = 0;
  private disposed = false;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly client: Client<GameRegistry>,
    matchId: string,
    ticket: string,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.ticket = ticket;
    this.view = {
      matchId,
      status: "connecting",
      you: null,
      phase: null,
      startsAt: null,
      endsAt: null,
      seats: [],
      scores: [],
      hp: null,
      alive: true,
      shielded: false,
      pingMs: null,
      feed: [],
      results: null,
      error: null,
    };
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getView = (): MatchView => this.view;

  private update(patch: Partial<MatchView>): void {
    this.view = { ...this.view, ...patch };
    for (const l of this.listeners) l();
  }

  /**
   * Connects and starts sending inputs. May be called again after `dispose()` (React's strict
   * mode mounts twice in development): each start has its own connection, and callbacks of an
   * earlier one are ignored.
   */
  start(): void {
    const { matchId } = this.view;
    this.disposed = false;
    if (this.view.status !== "closed") this.update({ status: "connecting" });
    const conn = this.client.match
      .get([matchId], { getParams: () => ({ ticket: this.ticket }) })
      .connect() as MatchConn;
    this.conn = conn;
    /** A callback of a connection this session no longer uses (disposed, started again). */
    const stale = () => this.conn !== conn;

    conn.onStatusChange((s) => {
      if (stale() || this.view.status === "closed") return;
      if (s === "connected") {
        this.update({ status: "connected" });
        void this.measurePing(); // at once, not a second later
      } else if (s === "connecting" && this.view.status === "connected") {
        this.update({ status: "reconnecting" });
      }
    });
    conn.onError((err) => {
      // Only errors that end the connection (a refusal, the match closing it) end the session;
      // the client retries the others by itself, and the status says "reconnecting".
      if (stale() || conn.status !== "disconnected") return;
      if (reasonOf(err) === "match_over") {
        // A reload as the match ended: the refusal carries the results the page missed.
        const missed = resultsOf(err);
        if (missed && !this.view.results) this.update({ results: missed, phase: "ended" });
        if (this.view.results) return this.end(null);
      }
      this.end(err);
    });

    conn.on("welcome", (w) => {
      if (stale()) return;
      this.ticket = w.ticket;
      saveMatch({ matchId, ticket: w.ticket });
      this.update({
        you: w.you,
        phase: w.phase,
        startsAt: w.startsAt,
        endsAt: w.endsAt,
        seats: w.seats,
      });
    });
    conn.on("snapshot", (payload) => {
      if (!stale()) this.onSnapshot(payload);
    });
    conn.on("phase", (p) => {
      if (!stale()) this.update({ phase: p.phase, startsAt: p.startsAt, endsAt: p.endsAt });
    });
    conn.on("scores", (scores) => {
      if (!stale()) this.update({ scores });
    });
    conn.on("results", (r) => {
      if (stale()) return;
      saveMatch(null);
      this.update({ results: r, phase: "ended" });
    });

    this.inputTimer = setInterval(() => this.sendInput(), TICK_MS);
    this.pingTimer = setInterval(() => void this.measurePing(), PING_INTERVAL_MS);
    if (typeof document !== "undefined") {
      const stopOnHide = () => {
        // A hidden tab's timers slow to once a second: the server would keep the last input
        // (running on, firing). Send a standstill first.
        if (document.visibilityState === "hidden") this.sendInput(true);
      };
      document.addEventListener("visibilitychange", stopOnHide);
      this.cleanups.push(() => document.removeEventListener("visibilitychange", stopOnHide));
    }
  }

  /** Ends the session: no more inputs, the connection closed. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.inputTimer);
    clearInterval(this.pingTimer);
    for (const c of this.cleanups.splice(0)) c();
    const conn = this.conn;
    this.conn = undefined;
    this.table.clear();
    this.predicting = false;
    this.resyncing = false;
    await conn?.dispose();
  }

  private end(error: unknown): void {
    if (this.view.status === "closed") return;
    clearInterval(this.inputTimer);
    clearInterval(this.pingTimer);
    if (reasonOf(error) !== "replaced") saveMatch(null);
    this.update({ status: "closed", error });
  }

  /** The server's clock now, estimated from the pings (for the countdown and match timer). */
  serverNow(): number {
    return Date.now() + this.clockOffset;
  }

  private onSnapshot(payload: unknown): void {
    this.applyKills(payload);
    let snapshot: Snapshot;
    try {
      snapshot = snapshotFromWire(payload, this.table.known);
    } catch (err) {
      // Logged once per break, not for every delta after it (they cannot be read either).
      if (!this.resyncing) {
        console.warn("[game] a snapshot could not be read; asking for a full one:", err);
        this.resync();
      }
      return;
    }
    if (this.resyncing) {
      // Deltas against a copy that is out of step would only spread the damage.
      if (!snapshot.delta.full) return;
      this.resyncing = false;
    }
    const now = this.now();
    this.table.apply(snapshot, now);
    this.acked = snapshot.ack;
    const you = this.view.you;
    const me = you ? this.table.known.get(you) : undefined;
    if (me?.k !== "p") return;
    const live = this.view.phase === "live" && me.alive;
    if (!live || !this.predicting || snapshot.delta.full) {
      this.predictor.reset(me.x, me.y, now);
    } else {
      this.predictor.reconcile(snapshot.ack, me.x, me.y, now);
    }
    this.predicting = live;
    // Bullets this player fired this tick: drawn from the muzzle where the player is drawn.
    const drawn = this.predicting ? this.predictor.displayed(now) : me;
    for (const v of snapshot.delta.enter) {
      if (v.k === "b" && isOwnBullet(v, me, snapshot.t)) {
        this.table.markOwn(v.id, drawn.x - me.x, drawn.y - me.y);
      }
    }
    const shielded = this.shielded(me.shielded);
    if (me.hp !== this.view.hp || me.alive !== this.view.alive || shielded !== this.view.shielded) {
      this.update({ hp: me.hp, alive: me.alive, shielded });
    }
  }

  /** The kills a snapshot carries, into the score table and the feed. */
  private applyKills(payload: unknown): void {
    let kills: ReturnType<typeof killsFromWire>;
    try {
      kills = killsFromWire(payload);
    } catch {
      return; // the snapshot is unreadable as a whole: onSnapshot asks for a resync (and table)
    }
    if (kills.length === 0) return;
    let scores = this.view.scores;
    let feed = this.view.feed;
    const at = Date.now();
    for (const k of kills) {
      scores = applyKill(scores, k);
      feed = [{ ...k, at }, ...feed];
    }
    this.update({ scores, feed: feed.slice(0, 5) });
  }

  /** Asks the match for a full snapshot; the table stays as it is until it arrives. */
  private resync(): void {
    this.resyncing = true;
    const conn = this.conn;
    conn?.resync().catch((err: unknown) => {
      if (this.conn !== conn || conn.status !== "connected") return; // a reconnect sends one
      // Refused while connected: let the next broken frame ask again rather than wait forever.
      console.warn("[game] the match did not resend the snapshot:", err);
      this.resyncing = false;
    });
  }

  private sendInput(standstill = false): void {
    const conn = this.conn;
    if (conn?.status !== "connected" || this.view.status === "closed") return;
    const c = readControls(this.controls, this.lastAim);
    this.lastAim = c.aim;
    const now = this.now();
    const fire = !standstill && c.fire && now - this.lastFireAt >= MIN_FIRE_INTERVAL_MS;
    if (fire) this.lastFireAt = now;
    // A shot the server will apply (live, alive) ends the spawn protection: see `shielded`.
    if (fire && this.predicting) this.lastFireSeq = this.seq + 1;
    // As it goes on the wire (forWire): the prediction applies what the server will.
    const input = forWire({
      seq: ++this.seq,
      dx: standstill ? 0 : c.dx,
      dy: standstill ? 0 : c.dy,
      aimAngle: c.aim,
      fire,
    });
    if (this.predicting) this.predictor.applyInput(input, now);
    // No reply wanted: the snapshots' `ack` says when it was applied. Lost with a dropped
    // connection, it is not resent: the next tick sends the current state anyway.
    conn.notify.input(input);
  }

  private async measurePing(): Promise<void> {
    const conn = this.conn;
    if (conn?.status !== "connected") return;
    const sent = Date.now();
    const t0 = this.now();
    try {
      const serverNow = await conn.ping();
      const rtt = this.now() - t0;
      const offset = serverNow - (sent + rtt / 2);
      this.pings = [...this.pings, { rtt, offset }].slice(-PING_SAMPLES);
      // The clock from the quickest round trip (the least time for the answer to be delayed).
      const quickest = this.pings.reduce((a, b) => (b.rtt < a.rtt ? b : a));
      this.clockOffset = quickest.offset;
      const sorted = this.pings.map((p) => p.rtt).sort((a, b) => a - b);
      this.update({ pingMs: Math.round(sorted[Math.floor(sorted.length / 2)]!) });
    } catch {
      // Down: the status shows it.
    }
  }

  /** What to draw now: the own player predicted, the others interpolated. */
  frame(): Frame {
    const now = this.now();
    const you = this.view.you;
    let me: Frame["me"] = null;
    const others: EntityPose[] = [];
    for (const e of this.table.poses(now)) {
      if (e.view.id === you && e.view.k === "p") {
        const pos = this.predicting ? this.predictor.displayed(now) : e.view;
        me = {
          x: pos.x,
          y: pos.y,
          a: this.lastAim,
          hp: e.view.hp,
          alive: e.view.alive,
          shielded: this.shielded(e.view.shielded),
        };
      } else {
        others.push(e);
      }
    }
    return { you, me, others };
  }

  /**
   * The own player's spawn protection, predicted like its position: firing ends it on the server
   * in the tick that applies the shot, so a shot sent and not yet acknowledged has ended it
   * already. The server's word (`server`, from the last snapshot) holds again once it is.
   */
  private shielded(server: boolean): boolean {
    return server && this.lastFireSeq <= this.acked;
  }

  /** The entity table as plain data (for `window.__game` and tests). */
  entities(): EntityView[] {
    return [...this.table.known.values()];
  }
}

/** The results a `match_over` refusal carries (in its metadata), if it has them. */
function resultsOf(err: unknown): MatchResultsEvent | null {
  const results = (err as { metadata?: { results?: unknown } } | null)?.metadata?.results;
  if (typeof results !== "object" || results === null) return null;
  const r = results as Partial<MatchResultsEvent>;
  if (!Array.isArray(r.lines) || typeof r.matchId !== "string") return null;
  return { ...r, ratingsAfter: r.ratingsAfter ?? {} } as MatchResultsEvent;
}
