/**
 * Test helpers: a real game server on a random port with its own scratch database and actor
 * storage directory, a typed client, guest sign-in, and the steps of getting into a match.
 * `restart()` stops the server and starts a new one on the same port, storage and database, as a
 * deploy or crash-restart would.
 *
 * @example
 * const app = await startTestApp({ tuning: { matchSize: 2 } });
 * const [ada, bo] = await Promise.all([app.play("Ada"), app.play("Bo")]);
 * expect(ada.matchId).toBe(bo.matchId);
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "troupe/client";
import { createScratchDatabase } from "troupe/db";
import { waitFor } from "troupe/test";
import type {
  GameRegistry,
  MatchedEvent,
  SnapshotEvent,
  WelcomeEvent,
} from "../src/actors/index.js";
import { applyDelta, type EntityView } from "../src/interest/interest.js";
import { decodeSnapshot } from "../src/interest/wire.js";
import { type GameServer, type GameServerOptions, startGameServer } from "../src/server.js";

export const TEST_SECRET = "test-secret-0123456789abcdef0123456789abcdef";

export type GameClient = ReturnType<typeof createClient<GameRegistry>>;
export type MatchConn = ReturnType<ReturnType<GameClient["match"]["get"]>["connect"]>;
export type MatchmakerConn = ReturnType<ReturnType<GameClient["matchmaker"]["get"]>["connect"]>;

export interface Guest {
  token: string;
  player: { id: string; name: string };
}

/** A player in a match: its connection and what it has received. */
export interface Player {
  guest: Guest;
  matchId: string;
  ticket: string;
  conn: MatchConn;
  welcome: WelcomeEvent[];
  /** Decoded (`decodeSnapshot`), in arrival order. */
  snapshots: SnapshotEvent[];
  /** The entities this player knows, kept current from the snapshots (as a client would). */
  known: Map<string, EntityView>;
  /** The kills its snapshots carried, in order. */
  kills: { killer: string; victim: string }[];
  /** Its own entity id, once welcomed. */
  me(): string;
  /** The newest view of its own entity. */
  self(): EntityView & { k: "p" };
  events: Record<string, unknown[]>;
  /** Errors the connection reported (a restart's outage, a refusal). */
  errors: string[];
}

export type TestAppOptions = Partial<Omit<GameServerOptions, "port" | "hostname" | "storage">> & {
  /** Where the app's pg pool connects (e.g. through a TCP proxy); default the scratch database. */
  appDatabaseUrl?: (scratchUrl: string) => string | Promise<string>;
};

export interface TestApp {
  server: GameServer;
  url: string;
  client: GameClient;
  databaseUrl: string;
  guest(name: string): Promise<Guest>;
  /** Connects a guest to the matchmaker (`queue()` is up to the test). */
  lobby(guest: Guest): MatchmakerConn;
  /** Guest token, queue, wait for `matched`: the guest's ticket and match. */
  queueUp(name: string): Promise<{ guest: Guest; matched: MatchedEvent }>;
  /** Joins a match with a ticket and records what arrives. */
  join(guest: Guest, matchId: string, ticket: string): Player;
  /** queueUp, then join. */
  play(name: string): Promise<Player>;
  post(path: string, body?: unknown): Promise<{ status: number; body: any }>;
  get(path: string): Promise<{ status: number; body: any }>;
  sql<T>(text: string, values?: unknown[]): Promise<T[]>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error("DATABASE_URL is not set: the global setup should provide it.");
  const scratch = await createScratchDatabase(base);
  const dataDir = await mkdtemp(join(tmpdir(), "game-test-"));
  const { appDatabaseUrl, ...serverOpts } = opts;
  const databaseUrl = appDatabaseUrl ? await appDatabaseUrl(scratch.url) : scratch.url;
  let port = 0;
  const start = () =>
    startGameServer({
      port,
      hostname: "127.0.0.1",
      authSecret: TEST_SECRET,
      ...serverOpts,
      databaseUrl,
      storage: { driver: "file", path: dataDir },
    });
  let server = await start();
  port = server.port;
  const lobbies: MatchmakerConn[] = [];

  const app: TestApp = {
    server,
    url: server.url,
    client: createClient<GameRegistry>(server.url),
    databaseUrl: scratch.url,
    async guest(name) {
      const res = await app.post("/api/guest", { name });
      if (res.status !== 201)
        throw new Error(`guest failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as Guest;
    },
    lobby(guest) {
      const conn = app.client.matchmaker
        .getOrCreate(["ffa"], { params: { token: guest.token } })
        .connect();
      lobbies.push(conn);
      return conn;
    },
    async queueUp(name) {
      const guest = await app.guest(name);
      const lobby = app.lobby(guest);
      const matched = new Promise<MatchedEvent>((resolve) => lobby.once("matched", resolve));
      await lobby.queue();
      const m = await matched;
      // As the game's client does: the lobby is left once the match is known.
      await lobby.dispose();
      return { guest, matched: m };
    },
    join(guest, matchId, ticket) {
      const conn = app.client.match.get([matchId], { params: { ticket } }).connect();
      const player: Player = {
        guest,
        matchId,
        ticket,
        conn,
        welcome: [],
        snapshots: [],
        known: new Map(),
        kills: [],
        events: {},
        errors: [],
        me() {
          const w = player.welcome.at(-1);
          if (!w) throw new Error("not welcomed yet");
          return w.you;
        },
        self() {
          const v = player.known.get(player.me());
          if (v?.k !== "p") throw new Error("own entity not in view");
          return v;
        },
      };
      conn.onError((e) => player.errors.push(e.code));
      conn.on("welcome", (w) => player.welcome.push(w));
      conn.on("snapshot", (payload) => {
        // As the game's client does: read the compact payload against what it knows, apply.
        const s = decodeSnapshot(payload, player.known);
        player.snapshots.push(s);
        applyDelta(player.known, s);
        if (s.kills) player.kills.push(...s.kills);
      });
      for (const name of ["phase", "scores", "left", "results"] as const) {
        player.events[name] = [];
        conn.on(name, (e: unknown) => player.events[name]!.push(e));
      }
      return player;
    },
    async play(name) {
      const { guest, matched } = await app.queueUp(name);
      const player = app.join(guest, matched.matchId, matched.ticket);
      await waitFor(() => joined(player));
      return player;
    },
    async post(path, body) {
      const res = await fetch(`${app.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body:
          body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    },
    async get(path) {
      const res = await fetch(`${app.url}${path}`);
      return { status: res.status, body: (await res.json()) as any };
    },
    sql: scratch.query,
    async restart() {
      await server.close();
      server = await start();
      app.server = server;
      app.url = server.url;
    },
    async close() {
      await app.client.dispose();
      await server.close();
      await scratch.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return app;
}

/**
 * Welcomed by the match, with its first snapshot, and connected: the match's events (`welcome`,
 * the full snapshot) can arrive before the protocol's own welcome frame, which waits until what
 * onConnect changed is stored, and a notification (`conn.notify.input`) sent before that frame is
 * dropped, not queued.
 */
export function joined(p: Player): boolean {
  return p.welcome.length > 0 && p.snapshots.length > 0 && p.conn.status === "connected";
}

/** The code of the error a promise fails with; a promise that succeeds fails the test. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => {
      throw new Error("expected a failure");
    },
    (err: { code?: string }) => err.code ?? String(err),
  );
}

export { waitFor };
