/**
 * One live actor. This file coordinates the per-concern parts — tracked state (`state.ts`), KV
 * (`kv.ts`), the persisted format (`persisted.ts`) — and owns the lifecycle:
 *
 *   create:  createState -> (stored) -> onCreate -> createVars -> onWake -> ready
 *   wake:    (loaded) -> createVars -> onWake -> ready
 *   sleep:   onSleep -> wait for background work -> save -> stopped
 *   destroy: onDestroy -> delete data -> stopped
 *
 * Durability rule: an action's reply is released only after every state write the actor queued
 * up to that point is durable (see `storage/commit.ts` for how writes are batched).
 *
 * A failed write is never retried: memory then holds changes storage does not, so the instance
 * is thrown away as in a crash (`resetAfterStorageFailure`) and the next request wakes the actor
 * from storage, as Durable Objects do after a failed write.
 */
import type { ActionContext, ActorContext, Conn } from "../actor/context.js";
import type { AnyActorDefinition } from "../actor/definition.js";
import { type ActorOptions, DEFAULT_ACTOR_OPTIONS } from "../actor/options.js";
import type { Client } from "../client/types.js";
import type { Clock, TimerHandle } from "../clock.js";
import { TroupeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { GroupCommitter, SerializedState } from "../storage/commit.js";
import type { ActorRecord, StorageDriver } from "../storage/driver.js";
import { call, randomId, TimeoutError, withTimeout } from "../util.js";
import {
  CLOSE,
  Connection,
  DEFAULT_MAX_OUTGOING_BUFFER,
  eventFrame,
  type ServerSocket,
} from "./connections.js";
import { KvStore } from "./kv.js";
import {
  CURRENT_VERSION,
  decodePersisted,
  encodePersisted,
  type ScheduledEvent,
} from "./persisted.js";
import { cloneSerializable, TrackedState } from "./state.js";

const textEncoder = new TextEncoder();

/** What an instance needs from the engine that hosts it. */
export interface InstanceHost {
  readonly driver: StorageDriver;
  readonly committer: GroupCommitter;
  readonly clock: Clock;
  readonly log: Logger;
  client(): Client<any>;
  /** Called once the instance has fully stopped, so placement can forget it. */
  instanceStopped(instance: ActorInstance): void;
  /** The actor's next alarm changed (null: none): (re)arm the wake-up timer. */
  alarmChanged(actorId: string, at: number | null): void;
  /** Bytes queued to one client before it is dropped as too slow. */
  readonly maxOutgoingBuffer?: number;
}

export type InstanceStatus = "starting" | "ready" | "stopping" | "stopped";
export type StopReason = "sleep" | "destroy" | "shutdown";

export class ActorInstance {
  readonly id: string;
  readonly name: string;
  readonly key: string[];
  readonly options: ActorOptions;
  status: InstanceStatus = "starting";
  /** Resolves when the instance has stopped (after sleep, destroy or shutdown). */
  readonly stopped: Promise<void>;

  readonly conns = new Map<string, Connection>();
  readonly kv: KvStore;
  private readonly host: InstanceHost;
  private readonly def: AnyActorDefinition;
  private readonly log: Logger;
  private tracked!: TrackedState;
  private vars: unknown = undefined;
  private initialized = false;
  private schedule: ScheduledEvent[] = [];
  private readonly abort = new AbortController();
  private readonly ctx: ActorContext;

  private dirty = false;
  private lastWrite: Promise<void> = Promise.resolve();
  /** The write handed to the committer whose batch is not cut yet, if any. */
  private queuedWrite: Promise<void> | undefined;
  /** Set once a write of this actor failed: every later write fails with it. */
  private storageFailure: TroupeError | undefined;
  /** Called when the last running call ends, while a reset waits for it. */
  private onIdleCalls: (() => void) | undefined;
  private saveTimer: TimerHandle | undefined;
  private stateChangeQueued = false;
  private inStateChange = false;

  private running = 0;
  private readonly background = new Set<Promise<unknown>>();
  private sleepTimer: TimerHandle | undefined;
  /** When the sleep countdown started (the actor became idle). */
  private idleSinceAt = 0;
  private sleepRequested = false;
  private destroyRequested = false;
  private stopping: Promise<void> | undefined;
  private resolveStopped!: () => void;
  private livenessTimer: TimerHandle | undefined;
  private rawSockets = 0;
  /** Next alarm time last handed to storage; `undefined` = unknown, rewrite it. */
  private persistedAlarm: number | null | undefined = undefined;
  private runningAlarms = false;

  constructor(
    host: InstanceHost,
    def: AnyActorDefinition,
    record: Pick<ActorRecord, "id" | "name" | "key">,
  ) {
    this.host = host;
    this.def = def;
    this.id = record.id;
    this.name = record.name;
    this.key = record.key;
    this.options = { ...DEFAULT_ACTOR_OPTIONS, ...def.config.options };
    this.log = host.log.child({ actor: this.name, key: this.key, actorId: this.id });
    this.kv = new KvStore(this.id, host.driver, host.committer, () => this.storageFailure);
    this.stopped = new Promise((r) => {
      this.resolveStopped = r;
    });
    this.ctx = this.makeContext();
  }

  // ---- creation and wake ------------------------------------------------------------------

  /** Builds the initial state of a new actor and returns the data to store with its record. */
  async initialData(input: unknown): Promise<string> {
    const cfg = this.def.config;
    let state: unknown;
    if (cfg.createState) {
      state = await call(() => cfg.createState!(this.ctx as any, input));
    } else {
      state = cfg.state === undefined ? undefined : structuredClone(cfg.state);
    }
    this.tracked = new TrackedState(state, () => this.stateChanged());
    this.persistedAlarm = null;
    return this.encode();
  }

  /** Starts a new actor (after its record is stored): onCreate, then the wake sequence. */
  async startNew(input: unknown): Promise<void> {
    if (this.def.config.onCreate)
      await call(() => this.def.config.onCreate!(this.ctx as any, input));
    this.initialized = true;
    this.markDirty();
    await this.saveState();
    await this.wakeSequence();
  }

  /** Starts an actor loaded from storage. */
  async startExisting(data: string): Promise<void> {
    const persisted = decodePersisted(data);
    this.tracked = new TrackedState(persisted.state, () => this.stateChanged());
    this.initialized = persisted.initialized;
    this.schedule = persisted.schedule;
    this.persistedAlarm = this.nextAlarm();
    if (!this.initialized) {
      // The process stopped between storing the actor and finishing onCreate; the input is gone,
      // so onCreate cannot be replayed. Mark it done rather than retrying forever.
      this.log.warn("actor was stored before onCreate finished; continuing without it");
      this.initialized = true;
      this.markDirty();
    }
    await this.wakeSequence();
  }

  private async wakeSequence(): Promise<void> {
    const cfg = this.def.config;
    if (cfg.createVars) {
      this.vars = await withTimeout(
        this.host.clock,
        call(() => cfg.createVars!(this.ctx as any, undefined)),
        this.options.createVarsTimeout,
        () => new TimeoutError("createVars", this.options.createVarsTimeout),
      );
    } else if (cfg.vars !== undefined) {
      this.vars = structuredClone(cfg.vars);
    }
    if (cfg.onWake) await call(() => cfg.onWake!(this.ctx as any));
    if (this.storageFailure) {
      // A write failed while waking: this instance never serves; the next request retries.
      this.status = "stopped";
      this.resolveStopped();
      throw this.storageFailure;
    }
    this.status = "ready";
    this.host.alarmChanged(this.id, this.nextAlarm());
    this.armSleep();
  }

  // ---- state -----------------------------------------------------------------------------

  private encode(): string {
    return encodePersisted({
      v: CURRENT_VERSION,
      state: this.tracked.value,
      initialized: this.initialized,
      schedule: this.schedule,
    });
  }

  /** For the group commit: the data, plus the alarm index when it changed. */
  private serialize(): SerializedState {
    const next = this.nextAlarm();
    const out: SerializedState = { data: this.encode() };
    if (next !== this.persistedAlarm) {
      out.alarm = next;
      this.persistedAlarm = next;
    }
    return out;
  }

  private nextAlarm(): number | null {
    return this.schedule[0]?.at ?? null;
  }

  private stateChanged(): void {
    this.markDirty();
    if (this.def.config.onStateChange && !this.inStateChange && !this.stateChangeQueued) {
      this.stateChangeQueued = true;
      queueMicrotask(() => {
        this.stateChangeQueued = false;
        if (this.status === "stopped") return;
        this.inStateChange = true;
        try {
          this.def.config.onStateChange!(this.ctx as any, this.tracked.proxy);
        } catch (err) {
          this.log.error("onStateChange threw", { error: err });
        } finally {
          this.inStateChange = false;
        }
      });
    }
  }

  private markDirty(): void {
    this.dirty = true;
    // Changes made outside actions (timers, background work) are saved within stateSaveInterval.
    if (!this.saveTimer && this.status !== "stopped") {
      this.saveTimer = this.host.clock.setTimeout(() => {
        this.saveTimer = undefined;
        this.saveState().catch((err) =>
          this.log.error("periodic state save failed", { error: err }),
        );
      }, this.options.stateSaveInterval);
    }
  }

  /**
   * Queues the state if changed; resolves when every write queued so far is durable, and
   * rejects with `storage_error` once any write of this actor has failed.
   */
  saveState(): Promise<void> {
    if (this.storageFailure) return Promise.reject(this.storageFailure);
    if (this.dirty && this.status !== "stopped") {
      this.dirty = false;
      this.host.clock.clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      // The batch resolving is not enough: one that failed before it may have dropped this
      // actor's writes from it (see commit.ts).
      // A write still queued (its batch not cut yet) serializes the state when the batch is
      // cut, so it carries this change too: the actions of one socket read share one write.
      if (this.queuedWrite) {
        this.host.committer.joined();
        return this.queuedWrite;
      }
      const write = this.host.committer
        .writeState(this.id, this.serializeQueued)
        .then(this.assertStored);
      write.catch(() => {}); // callers hear of it; an unawaited save must not crash the process
      this.lastWrite = write;
      this.queuedWrite = write;
      return write;
    }
    return this.lastWrite;
  }

  /** The batch is being cut: later changes need a write of their own. */
  private readonly serializeQueued = (): SerializedState => {
    this.queuedWrite = undefined;
    return this.serialize();
  };

  private readonly assertStored = (): void => {
    if (this.storageFailure) throw this.storageFailure;
  };

  /**
   * A batch carrying this actor's writes failed, so memory holds changes storage does not.
   * Nothing more is saved: calls waiting for those writes, and any later write, fail with
   * `storage_error`; once the running calls have answered, the connections are closed with
   * 1011 (clients reconnect) and the instance stops without onSleep or onDisconnect, as in a
   * crash. The next request wakes the actor from storage.
   */
  resetAfterStorageFailure(error: TroupeError): void {
    if (this.storageFailure || this.status === "stopped") return;
    this.storageFailure = error;
    this.dirty = false;
    this.host.clock.clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    // Starting: the wake fails at its end. Stopping: the final save fails and the stop ends it.
    if (this.status === "ready") this.stopping ??= this.runReset();
  }

  private async runReset(): Promise<void> {
    this.status = "stopping";
    this.clearSleep();
    this.abort.abort(new Error("Actor reset after a failed storage write"));
    if (this.running > 0) {
      // Let the calls in flight send their storage_error on their connections first. Each is
      // bounded by its own timeout; this bound only guards against hooks that have none.
      await withTimeout(
        this.host.clock,
        new Promise<void>((resolve) => {
          this.onIdleCalls = resolve;
        }),
        this.options.actionTimeout,
        () => new TimeoutError("reset", this.options.actionTimeout),
      ).catch(() => {});
      this.onIdleCalls = undefined;
    }
    // Cleared first, so the sockets' close events find nothing to run onDisconnect for.
    const conns = [...this.conns.values()];
    this.conns.clear();
    for (const conn of conns) conn.close(CLOSE.storageError, "storage_error");
    this.host.clock.clearTimeout(this.livenessTimer);
    this.livenessTimer = undefined;
    this.status = "stopped";
    this.host.instanceStopped(this);
    this.resolveStopped();
  }

  // ---- actions ---------------------------------------------------------------------------

  executeAction(name: string, args: unknown, conn?: Conn): Promise<unknown> {
    try {
      return this.startAction(name, args, conn, true) as Promise<unknown>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * A notification: an action call nobody waits for (PROTOCOL.md, "Notifications"). It runs as
   * `executeAction` does, but a synchronous action that left the state unchanged ends here: with
   * no reply to hold back until earlier writes are durable, it makes no promise and waits for
   * nothing (a game's inputs, many a second per player). Otherwise it returns the call's promise,
   * which rejects as the call would. Throws at once for an unknown action or arguments that are
   * not an array, as `executeAction` rejects.
   */
  notifyAction(name: string, args: unknown, conn: Conn): Promise<unknown> | undefined {
    return this.startAction(name, args, conn, false);
  }

  /**
   * Checks and runs the action; throws the call's error if it cannot run now. With `reply`
   * false, a synchronous action that left everything to store as it was ends here (undefined).
   */
  private startAction(
    name: string,
    callArgs: unknown,
    conn: Conn | undefined,
    reply: boolean,
  ): Promise<unknown> | undefined {
    const fn = Object.hasOwn(this.def.config.actions, name)
      ? (this.def.config.actions[name] as ActionFn | undefined)
      : undefined;
    if (typeof fn !== "function") {
      throw new TroupeError(
        "action_not_found",
        `The actor "${this.name}" has no action "${name}".`,
      );
    }
    if (!Array.isArray(callArgs)) {
      throw new TroupeError("invalid_arguments", "Action arguments must be a JSON array.");
    }
    if (this.status !== "ready") throw new TroupeError("actor_stopping");
    const args: unknown[] = callArgs;
    this.beginActivity();
    const ctx = this.actionContext(conn);
    let output: unknown;
    try {
      output = fn(ctx, ...args);
    } catch (err) {
      return this.completeAction(ctx, name, args, undefined, err);
    }
    if (
      !reply &&
      !isThenable(output) &&
      !this.dirty &&
      !this.storageFailure &&
      !this.def.config.onBeforeActionResponse
    ) {
      this.endActivity();
      return undefined;
    }
    if (!isThenable(output) && !this.def.config.onBeforeActionResponse) {
      // A synchronous action (most are): only the write remains; no async frame around it.
      return this.saveState().then(
        () => {
          this.endActivity();
          return output;
        },
        (err) => {
          this.endActivity();
          throw err;
        },
      );
    }
    return this.completeAction(ctx, name, args, output, NO_FAILURE);
  }

  /**
   * The rest of a call once its action has returned `output` or thrown `failure`: a promise is
   * given the action timeout, `onBeforeActionResponse` runs, and whether it succeeded or not,
   * what the action changed is stored before anyone hears back.
   */
  private async completeAction(
    ctx: ActionContext,
    name: string,
    args: unknown[],
    output: unknown,
    failure: unknown,
  ): Promise<unknown> {
    try {
      if (failure !== NO_FAILURE) throw failure;
      // A synchronous action has finished already: only a promise needs the timeout (and its
      // timer, which was a large part of a small action's cost).
      if (isThenable(output)) {
        output = await withTimeout(
          this.host.clock,
          Promise.resolve(output),
          this.options.actionTimeout,
          () =>
            new TroupeError(
              "action_timeout",
              `The action "${name}" did not finish within ${this.options.actionTimeout} ms.`,
            ),
        );
      }
      if (this.def.config.onBeforeActionResponse) {
        output = await this.def.config.onBeforeActionResponse(ctx, name, args, output);
      }
      failure = NO_FAILURE;
    } catch (err) {
      failure = err;
    }
    try {
      await this.saveState();
    } finally {
      this.endActivity();
    }
    if (failure !== NO_FAILURE) throw failure;
    return output;
  }

  /** Raw HTTP through `onRequest`. */
  async handleRequest(request: Request, skipReadyWait = false): Promise<Response | undefined> {
    const handler = this.def.config.onRequest;
    if (!handler) return undefined;
    if (this.status !== "ready" && !(skipReadyWait && this.status !== "stopped")) {
      throw new TroupeError("actor_stopping");
    }
    this.beginActivity();
    let failure: unknown;
    let response: Response | undefined | void;
    try {
      response = await call(() => handler(this.ctx as any, request));
    } catch (err) {
      failure = err;
    }
    try {
      await this.saveState();
    } finally {
      this.endActivity();
    }
    if (failure !== undefined) throw failure;
    return response ?? undefined;
  }

  // ---- connections -------------------------------------------------------------------------

  /** A context for connection hooks: the actor's context plus the upgrade/HTTP request. */
  private requestContext(request: Request | undefined): ActorContext & { request?: Request } {
    const ctx = Object.create(this.ctx) as ActorContext & { request?: Request };
    ctx.request = request;
    return ctx;
  }

  /** Runs onBeforeConnect and createConnState; their errors refuse the connection. */
  private async connState(params: unknown, request: Request | undefined): Promise<unknown> {
    const cfg = this.def.config;
    const ctx = this.requestContext(request);
    if (cfg.onBeforeConnect) await call(() => cfg.onBeforeConnect!(ctx as any, params));
    if (cfg.createConnState) {
      return withTimeout(
        this.host.clock,
        call(() => cfg.createConnState!(ctx as any, params)),
        this.options.createConnStateTimeout,
        () => new TimeoutError("createConnState", this.options.createConnStateTimeout),
      );
    }
    return cfg.connState === undefined ? undefined : structuredClone(cfg.connState);
  }

  /** Whether plain HTTP calls must pass the connection hooks (the actor checks its callers). */
  get checksConnections(): boolean {
    return Boolean(this.def.config.onBeforeConnect || this.def.config.createConnState);
  }

  /** The short-lived connection of an HTTP call: hooks run, nothing is registered. */
  async ephemeralConnection(params: unknown, request: Request | undefined): Promise<Connection> {
    if (this.status !== "ready") throw new TroupeError("actor_stopping");
    this.beginActivity();
    try {
      const state = await this.connState(params, request);
      return new Connection(params, state, undefined, 0, async () => {});
    } finally {
      this.endActivity();
    }
  }

  /** Accepts a connection: onBeforeConnect, createConnState, onConnect. Throws to refuse. */
  async connect(
    params: unknown,
    request: Request | undefined,
    socket: ServerSocket,
    subscriptions: readonly string[] = [],
  ): Promise<Connection> {
    if (this.status !== "ready") throw new TroupeError("actor_stopping");
    this.beginActivity();
    try {
      const state = await this.connState(params, request);
      const conn = new Connection(
        params,
        state,
        socket,
        this.host.maxOutgoingBuffer ?? DEFAULT_MAX_OUTGOING_BUFFER,
        this.disconnectRequested,
      );
      // Subscribed before onConnect runs, so its broadcasts reach the new connection too.
      for (const name of subscriptions) conn.subscriptions.add(name);
      this.conns.set(conn.id, conn);
      if (this.def.config.onConnect) {
        try {
          await withTimeout(
            this.host.clock,
            call(() => this.def.config.onConnect!(this.actionContext(conn) as any, conn)),
            this.options.onConnectTimeout,
            () => new TimeoutError("onConnect", this.options.onConnectTimeout),
          );
        } catch (err) {
          this.conns.delete(conn.id);
          throw err;
        }
      }
      this.armLiveness();
      // What onConnect changed is stored before the client hears it is connected.
      await this.saveState();
      return conn;
    } finally {
      this.endActivity();
    }
  }

  private readonly disconnectRequested = (
    c: Connection,
    reason: string | undefined,
    reconnect: boolean,
  ): Promise<void> =>
    reconnect
      ? this.disconnect(c, CLOSE.reconnect, reason ?? "reconnect with fresh params")
      : this.disconnect(c, CLOSE.kicked, reason ?? "disconnected by the actor");

  /**
   * Takes back a connection whose socket outlived the previous instance (a Durable Object that
   * hibernated with its WebSockets open): same id, params, state and subscriptions, and no
   * connection hooks, since the client never left.
   */
  restoreConnection(
    saved: { id: string; params: unknown; state: unknown; subscriptions: readonly string[] },
    socket: ServerSocket,
  ): Connection {
    if (this.status !== "ready") throw new TroupeError("actor_stopping");
    const conn = new Connection(
      saved.params,
      saved.state,
      socket,
      this.host.maxOutgoingBuffer ?? DEFAULT_MAX_OUTGOING_BUFFER,
      this.disconnectRequested,
      saved.id,
    );
    for (const name of saved.subscriptions) conn.subscriptions.add(name);
    this.conns.set(conn.id, conn);
    this.armLiveness();
    return conn;
  }

  /** Closes a connection from the actor's side. */
  async disconnect(conn: Connection, code: number, reason: string): Promise<void> {
    conn.close(code, reason);
    await this.connectionClosed(conn);
  }

  /** The socket of a connection closed, whoever closed it: run onDisconnect once. */
  async connectionClosed(conn: Connection): Promise<void> {
    conn.closed = true;
    if (!this.conns.delete(conn.id)) return;
    if (this.def.config.onDisconnect) {
      try {
        await call(() => this.def.config.onDisconnect!(this.actionContext(conn) as any, conn));
      } catch (err) {
        this.log.error("onDisconnect threw", { error: err, connId: conn.id });
      }
      await this.saveState().catch((err) =>
        this.log.error("save after onDisconnect failed", { error: err }),
      );
    }
    if (this.conns.size === 0) {
      this.host.clock.clearTimeout(this.livenessTimer);
      this.livenessTimer = undefined;
    }
    this.armSleep();
  }

  /** Pings connections every connectionLivenessInterval; drops those silent past the timeout. */
  private armLiveness(): void {
    if (this.livenessTimer || this.conns.size === 0) return;
    let pinged = false;
    for (const conn of this.conns.values()) {
      if (conn.pings) {
        pinged = true;
        break;
      }
    }
    if (!pinged) return;
    this.livenessTimer = this.host.clock.setTimeout(() => {
      this.livenessTimer = undefined;
      const now = this.host.clock.now();
      for (const conn of [...this.conns.values()]) {
        if (
          conn.pingSentAt !== undefined &&
          now - conn.pingSentAt >= this.options.connectionLivenessTimeout
        ) {
          this.log.info("dropping a connection that stopped answering pings", { connId: conn.id });
          conn.terminate();
          void this.connectionClosed(conn);
        } else {
          conn.ping(now);
        }
      }
      this.armLiveness();
    }, this.options.connectionLivenessInterval);
  }

  /** For placement and the alarm scheduler. */
  get nextAlarmTime(): number | null {
    return this.nextAlarm();
  }

  /** Sends an event to every connection subscribed to it; serialized once. */
  broadcast(eventName: string, args: unknown[]): void {
    if (this.conns.size === 0) return;
    // Encoded once: sockets send the same bytes instead of re-encoding the string per client.
    const frame = textEncoder.encode(eventFrame(eventName, args));
    for (const conn of this.conns.values()) {
      if (conn.subscriptions.has(eventName)) conn.sendFrame(frame);
    }
  }

  // ---- raw WebSockets ----------------------------------------------------------------------

  get hasWebSocketHandler(): boolean {
    return typeof this.def.config.onWebSocket === "function";
  }

  /** Hands an open socket to onWebSocket; the actor stays awake while it is open. */
  async handleWebSocket(socket: WebSocket, request: Request, skipReadyWait = false): Promise<void> {
    const handler = this.def.config.onWebSocket;
    if (!handler)
      throw new TroupeError("not_found", `The actor "${this.name}" has no onWebSocket.`);
    if (this.status !== "ready" && !(skipReadyWait && this.status !== "stopped")) {
      throw new TroupeError("actor_stopping");
    }
    this.rawSockets++;
    socket.addEventListener("close", () => {
      this.rawSockets--;
      void this.saveState().catch(() => {});
      this.armSleep();
    });
    await call(() => handler(this.ctx as any, socket, { request }));
    // The socket was already open when the handler got it; handlers written for the browser
    // API (as in the spec) wait for "open", so announce it once they are listening: through
    // `emit` on a `ws` socket (Node), as a dispatched event on an EventTarget one (Workers).
    const target = socket as unknown as {
      emit?: (event: string) => void;
      dispatchEvent?: (event: Event) => boolean;
    };
    if (typeof target.emit === "function") target.emit("open");
    else if (typeof target.dispatchEvent === "function") target.dispatchEvent(new Event("open"));
  }

  // ---- schedule ----------------------------------------------------------------------------

  private scheduleAt(at: number, action: string, args: unknown[]): Promise<string> {
    if (!Object.hasOwn(this.def.config.actions, action)) {
      throw new TroupeError(
        "action_not_found",
        `Cannot schedule "${action}": the actor "${this.name}" has no such action.`,
      );
    }
    if (!Number.isFinite(at)) throw new TypeError("A schedule time must be a finite number of ms.");
    const event = {
      id: randomId(),
      at: Math.ceil(at),
      action,
      args: cloneSerializable(args, `schedule args of ${action}`) as unknown[],
    };
    let i = this.schedule.length;
    while (i > 0 && this.schedule[i - 1]!.at > event.at) i--;
    this.schedule.splice(i, 0, event);
    this.scheduleChanged();
    const saved = this.saveState().then(() => event.id);
    saved.catch(() => {});
    return saved;
  }

  private scheduleChanged(): void {
    this.markDirty();
    this.host.alarmChanged(this.id, this.nextAlarm());
  }

  /**
   * Runs every alarm that is due, oldest first. An alarm is removed only after its action has
   * finished (at-least-once: a crash mid-action runs it again after restart). A failing action
   * is logged and removed, not retried.
   */
  async runDueAlarms(): Promise<void> {
    if (this.runningAlarms || this.status !== "ready") return;
    this.runningAlarms = true;
    try {
      for (;;) {
        const next = this.schedule[0];
        if (!next || next.at > this.host.clock.now() || this.status !== "ready") break;
        try {
          await this.executeAction(next.action, next.args);
        } catch (err) {
          this.log.error("scheduled action failed; it will not be retried", {
            action: next.action,
            error: err,
          });
        }
        const idx = this.schedule.findIndex((e) => e.id === next.id);
        if (idx >= 0) this.schedule.splice(idx, 1);
        this.scheduleChanged();
        await this.saveState();
      }
    } finally {
      this.runningAlarms = false;
    }
  }

  private actionContext(conn: Conn | undefined): ActionContext {
    // One small object per call that inherits everything from the actor's context.
    const ctx = Object.create(this.ctx) as ActionContext & { _conn?: Conn };
    ctx._conn = conn;
    return ctx;
  }

  // ---- activity and sleep ----------------------------------------------------------------

  private beginActivity(): void {
    // The sleep timer stays armed: it finds the actor busy when it fires (see `sleepDue`).
    this.running++;
  }

  private endActivity(): void {
    this.running--;
    if (this.running === 0) this.onIdleCalls?.();
    this.armSleep();
  }

  private isIdle(): boolean {
    return (
      this.running === 0 &&
      this.background.size === 0 &&
      this.conns.size === 0 &&
      this.rawSockets === 0
    );
  }

  /**
   * When this actor became idle, if it could be put to sleep right now (ready, idle, allowed to
   * sleep); undefined otherwise. Placement uses it to make room at the live-actor cap.
   */
  get idleSince(): number | undefined {
    return this.status === "ready" && this.sleepTimer !== undefined && this.isIdle()
      ? this.idleSinceAt
      : undefined;
  }

  private clearSleep(): void {
    this.host.clock.clearTimeout(this.sleepTimer);
    this.sleepTimer = undefined;
  }

  /**
   * Starts the idle countdown if nothing keeps the actor awake. The timer is not cancelled when
   * the actor gets busy again (a timer made and cancelled per action call was a third of a
   * small in-process call's cost): the countdown restarts here, from now, and a timer that
   * fires early finds the actor busy or idle for less than `sleepTimeout` (`sleepDue`).
   */
  private armSleep(): void {
    if (this.status !== "ready") return;
    // A destroy waits for running actions and background work, not for open connections:
    // stopping closes those as destroyed (4002), so a destroyed chat room does not live on
    // for as long as someone has it open.
    if (this.destroyRequested) {
      if (this.running === 0 && this.background.size === 0 && this.rawSockets === 0) {
        queueMicrotask(() => void this.stop("destroy"));
      }
      return;
    }
    if (!this.isIdle()) return;
    if (this.sleepRequested) {
      setImmediate(() => {
        if (this.isIdle()) void this.stop("sleep");
      });
      return;
    }
    if (this.options.noSleep) return;
    this.idleSinceAt = this.host.clock.now();
    this.sleepTimer ??= this.host.clock.setTimeout(this.sleepDue, this.options.sleepTimeout);
  }

  /** The sleep timer fired: sleep if idle for `sleepTimeout`, wait for the rest if idle for less. */
  private readonly sleepDue = (): void => {
    this.sleepTimer = undefined;
    // Busy: the end of that activity starts the countdown again.
    if (this.status !== "ready" || this.destroyRequested || !this.isIdle()) return;
    const left = this.idleSinceAt + this.options.sleepTimeout - this.host.clock.now();
    if (left > 0) {
      this.sleepTimer = this.host.clock.setTimeout(this.sleepDue, left);
      return;
    }
    void this.stop("sleep");
  };

  private track(promise: Promise<unknown>, what: string): void {
    const p = Promise.resolve(promise)
      .catch((err) => this.log.error(`${what} rejected`, { error: err }))
      .finally(() => {
        this.background.delete(p);
        this.armSleep();
      });
    this.background.add(p);
  }

  // ---- stop ------------------------------------------------------------------------------

  /** Stops the instance. Safe to call more than once; later calls share the first stop. */
  stop(reason: StopReason): Promise<void> {
    this.stopping ??= this.runStop(reason);
    return this.stopping;
  }

  private async runStop(reason: StopReason): Promise<void> {
    this.status = "stopping";
    this.clearSleep();
    this.abort.abort(new Error(reason === "destroy" ? "Actor destroyed" : "Actor stopping"));
    const hook = reason === "destroy" ? this.def.config.onDestroy : this.def.config.onSleep;
    const timeout =
      reason === "destroy" ? this.options.onDestroyTimeout : this.options.onSleepTimeout;
    try {
      if (hook) {
        await withTimeout(
          this.host.clock,
          call(() => hook(this.ctx as any)),
          timeout,
          () => new TimeoutError(reason === "destroy" ? "onDestroy" : "onSleep", timeout),
        );
      }
    } catch (err) {
      this.log.error(`${reason === "destroy" ? "onDestroy" : "onSleep"} failed`, { error: err });
    }
    if (this.background.size > 0) {
      await withTimeout(
        this.host.clock,
        Promise.allSettled([...this.background]),
        this.options.waitUntilTimeout,
        () => new TimeoutError("waitUntil", this.options.waitUntilTimeout),
      ).catch((err) => this.log.warn("background work still running at stop", { error: err }));
    }
    // Destroyed: clients should not come back. Sleeping or shutting down: they reconnect.
    for (const conn of [...this.conns.values()]) {
      await this.disconnect(
        conn,
        reason === "destroy" ? CLOSE.destroyed : CLOSE.goingAway,
        reason === "destroy" ? "actor destroyed" : "actor stopping",
      );
    }
    this.host.clock.clearTimeout(this.livenessTimer);
    try {
      if (reason === "destroy") {
        this.host.clock.clearTimeout(this.saveTimer);
        this.schedule = [];
        this.host.alarmChanged(this.id, null);
        await this.host.committer.destroy(this.id);
      } else {
        await this.saveState();
      }
    } catch (err) {
      this.log.error("final save failed", { error: err });
    } finally {
      this.host.clock.clearTimeout(this.saveTimer);
      this.status = "stopped";
      this.host.instanceStopped(this);
      this.resolveStopped();
    }
  }

  // ---- context ---------------------------------------------------------------------------

  private makeContext(): ActorContext {
    const self = this;
    const ctx: ActorContext = {
      get state() {
        if (!self.tracked) throw new Error("c.state is not available before createState returns.");
        return self.tracked.proxy;
      },
      set state(next: unknown) {
        self.tracked.replace(next);
      },
      get vars() {
        return self.vars;
      },
      set vars(next: unknown) {
        self.vars = next;
      },
      key: this.key,
      name: this.name,
      actorId: this.id,
      region: "local",
      kv: this.kv,
      log: this.log,
      conns: this.conns,
      abortSignal: this.abort.signal,
      broadcast(eventName: string, ...args: unknown[]) {
        self.broadcast(eventName, args);
      },
      schedule: {
        after: (ms: number, action: string, ...args: unknown[]) =>
          self.scheduleAt(self.host.clock.now() + ms, action, args),
        at: (timestamp: number, action: string, ...args: unknown[]) =>
          self.scheduleAt(timestamp, action, args),
        cancel: (id: string) => {
          const idx = self.schedule.findIndex((e) => e.id === id);
          if (idx < 0) return false;
          self.schedule.splice(idx, 1);
          self.scheduleChanged();
          return true;
        },
        list: () => self.schedule.map((e) => ({ ...e, args: structuredClone(e.args) })),
      },
      saveState(_opts?: { immediate?: boolean }) {
        self.markDirty();
        return self.saveState();
      },
      destroy() {
        self.destroyRequested = true;
        // Runs once the calling action (and anything else running) has finished.
        queueMicrotask(() => self.armSleep());
      },
      sleep() {
        self.sleepRequested = true;
        queueMicrotask(() => self.armSleep());
      },
      waitUntil(promise: Promise<unknown>) {
        self.track(promise, "waitUntil promise");
      },
      runInBackground(promise: Promise<unknown>) {
        self.track(promise, "runInBackground promise");
      },
      client<R>() {
        return self.host.client() as Client<R>;
      },
    };
    // The calling connection, or undefined for calls without one (scheduled actions, plain
    // HTTP calls to actors that do not check callers): the spec's examples read `c.conn?.state`.
    Object.defineProperty(ctx, "conn", {
      get(this: { _conn?: Conn }) {
        return this._conn;
      },
    });
    return ctx;
  }
}

/** An action as the instance calls it. */
type ActionFn = (ctx: ActionContext, ...args: unknown[]) => unknown;

/** `completeAction`'s failure when there is none (an action may throw undefined). */
const NO_FAILURE = Symbol("no failure");

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
