/**
 * The engine runs a registry: it owns the storage driver, the group committer, placement and
 * the clock, and exposes the operations that every transport (HTTP today, WebSocket and
 * in-process calls) maps onto: resolve an actor, call an action, forward a raw request.
 */

import type { AnyActorDefinition } from "../actor/definition.js";
import { UserError } from "../actor/errors.js";
import { DEFAULT_ACTOR_OPTIONS } from "../actor/options.js";
import { clientOver } from "../client/client.js";
import { ActorError } from "../client/errors.js";
import type { Transport } from "../client/transport.js";
import type { Client } from "../client/types.js";
import type { Clock, TimerHandle } from "../clock.js";
import { type ErrorBody, TroupeError } from "../errors.js";
import { ActorInstance, type InstanceHost } from "../instance/instance.js";
import { storedNextAlarm } from "../instance/persisted.js";
import type { Logger } from "../log.js";
import { jsonCopy } from "../protocol/json-copy.js";
import { socketPair } from "../protocol/socket-pair.js";
import { serveConnection } from "../protocol/websocket.js";
import { wireOutput } from "../protocol/wire.js";
import { GroupCommitter } from "../storage/commit.js";
import type { ActorRecord, StorageDriver } from "../storage/driver.js";
import { call, randomId, TimeoutError, withTimeout } from "../util.js";
import { type ActorQuery, type Caller, type InstanceFactory, LocalPlacement } from "./placement.js";

export interface EngineOptions {
  /** Largest incoming message (HTTP body or WebSocket frame), in bytes. */
  maxIncomingMessageSize?: number;
  /** Bytes queued to one client before it is dropped as too slow. */
  maxOutgoingBuffer?: number;
  defs: Record<string, AnyActorDefinition>;
  driver: StorageDriver;
  clock: Clock;
  log: Logger;
  /** Send internal error messages to clients (development only). */
  exposeErrors: boolean;
  /** Most actors live at once; idle ones sleep to make room. No cap when undefined. */
  maxLiveActors?: number;
  /**
   * Where alarms are kept while actors sleep. Default: one clock timer per actor in this process
   * (re-armed from storage at start). The Workers host puts them on the Durable Object alarm.
   */
  alarms?: (engine: Engine) => AlarmService;
  /** Ids for new actors. Default: 24 random hex digits. */
  newActorId?: () => string;
  /** What `c.client()` returns. Default: a client calling the actors of this engine in-process. */
  client?: () => Client<any>;
  /**
   * Called with every query before it is resolved; throws to refuse it. The Workers host uses it
   * so that a Durable Object only ever serves the one actor it is addressed as.
   */
  admit?: (query: ActorQuery) => void;
}

/**
 * The host's side of durable alarms: it learns each actor's next alarm time and calls
 * `engine.runAlarm(actorId)` when it is due, whether the actor is awake or not.
 */
export interface AlarmService {
  /** The actor's next alarm moved (null: it has none left). */
  set(actorId: string, at: number | null): void;
  /** Called once by `engine.start()` with every stored alarm. */
  restore(alarms: { actorId: string; at: number }[]): void;
  /** The engine is closing: cancel whatever is pending. */
  close(): void;
}

export class Engine implements InstanceHost, InstanceFactory {
  readonly driver: StorageDriver;
  readonly committer: GroupCommitter;
  readonly clock: Clock;
  readonly log: Logger;
  readonly placement: LocalPlacement;
  readonly exposeErrors: boolean;
  readonly maxOutgoingBuffer: number | undefined;
  readonly maxIncomingMessageSize: number | undefined;
  private closed = false;
  private inProcess: Client<any> | undefined;
  private readonly alarms: AlarmService;
  private readonly newActorId: () => string;
  private readonly makeClient: (() => Client<any>) | undefined;
  private readonly admit: ((query: ActorQuery) => void) | undefined;
  /** See `liveFor`. */
  private readonly lastResolved = new WeakMap<ActorQuery, ActorInstance>();

  constructor(opts: EngineOptions) {
    this.driver = opts.driver;
    this.clock = opts.clock;
    this.log = opts.log;
    this.exposeErrors = opts.exposeErrors;
    this.maxOutgoingBuffer = opts.maxOutgoingBuffer;
    this.maxIncomingMessageSize = opts.maxIncomingMessageSize;
    this.committer = new GroupCommitter(opts.driver, {
      onBatchFailed: (actorIds, error) => this.storageFailed(actorIds, error),
    });
    this.placement = new LocalPlacement(opts.defs, this, opts.maxLiveActors);
    this.alarms = opts.alarms ? opts.alarms(this) : new TimerAlarms(this);
    this.newActorId = opts.newActorId ?? randomId;
    this.makeClient = opts.client;
    this.admit = opts.admit;
  }

  get actorNames(): string[] {
    return this.placement.actorNames;
  }

  // ---- operations --------------------------------------------------------------------------

  /** The live instance for a query; a creation is authorised by `onBeforeCreate` with `caller`. */
  async resolve(query: ActorQuery, caller: Caller = {}): Promise<ActorInstance> {
    if (this.closed) throw new TroupeError("actor_stopping", "The server is shutting down.");
    this.admit?.(query);
    return this.placement.get(query, caller);
  }

  /**
   * `resolve` for callers that learn only the id: an actor that checks its callers
   * (onBeforeConnect / createConnState) runs those checks first, so an unauthorised caller
   * cannot even learn that the actor exists or what its id is.
   */
  async resolveId(query: ActorQuery, caller: Caller): Promise<string> {
    const inst = await this.resolve(query, caller);
    if (needsConnectionChecks(inst, caller)) {
      await inst.ephemeralConnection(caller.params, caller.request);
    }
    return inst.id;
  }

  /**
   * Calls an action outside a connection. When the caller sent connection params, or the actor
   * checks its callers (onBeforeConnect / createConnState) and the call comes from outside the
   * process, the call runs on a short-lived connection so those checks apply to it too.
   */
  callAction(
    query: ActorQuery,
    action: string,
    args: unknown,
    opts: Caller = {},
    /** Remember the instance for this query object (see `liveFor`): the in-process client. */
    reuse = false,
  ): Promise<unknown> {
    // The in-process client's path: a ready instance starts the call synchronously, so it cannot
    // begin stopping in between, and no async frame is needed around it.
    const live = reuse ? this.liveFor(query) : undefined;
    if (live !== undefined && !needsConnectionChecks(live, opts)) {
      return live.executeAction(action, args);
    }
    return this.lookUpAndCall(query, action, args, opts, reuse);
  }

  private async lookUpAndCall(
    query: ActorQuery,
    action: string,
    args: unknown,
    opts: Caller,
    reuse: boolean,
  ): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      let inst = reuse ? this.liveFor(query) : undefined;
      if (!inst) {
        inst = await this.resolve(query, opts);
        if (reuse) this.lastResolved.set(query, inst);
      }
      try {
        const conn = needsConnectionChecks(inst, opts)
          ? await inst.ephemeralConnection(opts.params, opts.request)
          : undefined;
        return await inst.executeAction(action, args, conn);
      } catch (err) {
        // The instance began stopping between lookup and call: it will be woken again.
        if (isStopping(err) && attempt < 3) continue;
        throw err;
      }
    }
  }

  /**
   * The instance an action call with this very query object reached last, while it is ready.
   * The in-process client's handles keep their query, so their calls skip the placement lookup
   * (key normalising and encoding); a ready instance is always the live one for its key or id,
   * and one that stopped is looked up afresh.
   */
  private liveFor(query: ActorQuery): ActorInstance | undefined {
    const inst = this.lastResolved.get(query);
    return inst && inst.status === "ready" && !this.closed ? inst : undefined;
  }

  // ---- InstanceHost ------------------------------------------------------------------------

  client(): Client<any> {
    this.inProcess ??= this.makeClient ? this.makeClient() : clientOver(this.transport());
    return this.inProcess;
  }

  instanceStopped(instance: ActorInstance): void {
    this.placement.forget(instance);
  }

  /**
   * A batch of writes failed: the actors it carried hold changes in memory that storage does
   * not. Each live one is reset (stopped without saving; the next request wakes it from
   * storage), and its alarm timer goes back to the stored alarm.
   */
  private storageFailed(actorIds: ReadonlySet<string>, error: TroupeError): void {
    this.log.error("storage write failed; its actors restart from their stored state", {
      actors: actorIds.size,
      error: error.cause,
    });
    for (const id of actorIds) {
      const inst = this.placement.liveById(id);
      inst?.resetAfterStorageFailure(error);
      void (inst?.stopped ?? Promise.resolve()).then(() => this.rearmStoredAlarm(id));
    }
  }

  private async rearmStoredAlarm(actorId: string): Promise<void> {
    try {
      const record = await this.driver.findActorById(actorId);
      // A fresh instance woken meanwhile manages the alarm itself.
      if (this.placement.liveById(actorId)) return;
      this.alarmChanged(actorId, record ? storedNextAlarm(record.data) : null);
    } catch (err) {
      this.log.warn("could not re-read an actor's alarm after a failed write", {
        actorId,
        error: err,
      });
    }
  }

  // ---- alarms ------------------------------------------------------------------------------

  /** Re-arms every stored alarm; called once when the engine starts. */
  async start(): Promise<void> {
    this.alarms.restore(await this.driver.listAlarms());
  }

  /** The actor's next alarm time changed: tell the alarm service. */
  alarmChanged(actorId: string, at: number | null): void {
    if (this.closed && at !== null) return;
    this.alarms.set(actorId, at);
  }

  /**
   * Runs the actor's due alarms (waking it if it sleeps) and hands its next alarm time back to
   * the alarm service. Throws when they could not run; the service retries.
   */
  async runAlarm(actorId: string): Promise<void> {
    if (this.closed) return;
    try {
      const record = this.placement.liveById(actorId) ?? (await this.driver.findActorById(actorId));
      if (!record) return; // destroyed meanwhile
      const inst = await this.resolve({ name: record.name, id: actorId });
      await inst.runDueAlarms();
      this.alarmChanged(actorId, inst.nextAlarmTime);
    } catch (err) {
      if (err instanceof TroupeError && err.code === "actor_not_found") return;
      if (this.closed) return;
      throw err;
    }
  }

  /** The instance for a raw request or socket; with skipReadyWait a starting or stopping one. */
  async instanceForRaw(actorId: string, skipReadyWait: boolean): Promise<ActorInstance> {
    const live = this.placement.liveById(actorId);
    if (live && skipReadyWait && live.status !== "stopped") return live;
    const name = live?.name ?? (await this.driver.findActorById(actorId))?.name;
    if (!name) throw new TroupeError("actor_not_found", `No actor has the id "${actorId}".`);
    return this.resolve({ name, id: actorId });
  }

  // ---- InstanceFactory ---------------------------------------------------------------------

  findByKey(name: string, key: string[]): Promise<ActorRecord | undefined> {
    return this.driver.findActorByKey(name, key);
  }

  findById(id: string): Promise<ActorRecord | undefined> {
    return this.driver.findActorById(id);
  }

  async createNew(
    def: AnyActorDefinition,
    name: string,
    key: string[],
    input: unknown,
    caller: Caller,
  ): Promise<ActorInstance | undefined> {
    await this.authoriseCreation(def, name, key, input, caller);
    const id = this.newActorId();
    const inst = new ActorInstance(this, def, { id, name, key });
    const data = await inst.initialData(input);
    const created = await this.driver
      .createActor({ id, name, key, createdAt: this.clock.now(), data })
      .catch((err) => {
        this.log.error("storage write failed: could not create an actor", { name, error: err });
        throw new TroupeError("storage_error", undefined, { cause: err });
      });
    if (!created) return undefined;
    try {
      await inst.startNew(input);
    } catch (err) {
      // Creation is all or nothing for the caller: a failed onCreate/onWake leaves no actor.
      await this.committer.destroy(id).catch((e) => this.log.error("cleanup failed", { error: e }));
      throw err;
    }
    return inst;
  }

  /** Runs `onBeforeCreate`; its error refuses the creation before anything is stored. */
  private async authoriseCreation(
    def: AnyActorDefinition,
    name: string,
    key: string[],
    input: unknown,
    caller: Caller,
  ): Promise<void> {
    const hook = def.config.onBeforeCreate;
    // Actors calling actors of the same process without params are trusted server code.
    if (!hook || (caller.inProcess && caller.params === undefined)) return;
    const timeout =
      def.config.options?.onBeforeCreateTimeout ?? DEFAULT_ACTOR_OPTIONS.onBeforeCreateTimeout;
    const log = this.log.child({ actor: name, key });
    const ctx = {
      name,
      key: [...key],
      region: "local",
      log,
      request: caller.request,
      client: <R>() => this.client() as Client<R>,
    };
    await withTimeout(
      this.clock,
      call(() =>
        hook(ctx, { key: [...key], input, params: caller.params, request: caller.request }),
      ),
      timeout,
      () => new TimeoutError("onBeforeCreate", timeout),
    );
  }

  async wake(
    def: AnyActorDefinition,
    record: ActorRecord,
    register: (i: ActorInstance) => void,
  ): Promise<ActorInstance> {
    const inst = new ActorInstance(this, def, record);
    register(inst);
    await inst.startExisting(record.data);
    return inst;
  }

  // ---- transports --------------------------------------------------------------------------

  /** A transport that calls this engine directly, with wire semantics (JSON copies, ActorError). */
  transport(): Transport {
    return {
      action: (query, action, args, params) => {
        let call: Promise<unknown>;
        try {
          call = this.callAction(
            query,
            action,
            jsonCopy(args),
            { params: jsonCopy(params), inProcess: true },
            true,
          );
        } catch (err) {
          return Promise.reject(this.toActorError(err, { action }));
        }
        return call.then(copyOutput, (err) => {
          throw this.toActorError(err, { action });
        });
      },
      resolve: async (query, params) => {
        try {
          return await this.resolveId(query, { params: jsonCopy(params), inProcess: true });
        } catch (err) {
          throw this.toActorError(err, {});
        }
      },
      fetch: async (actorId, path, init) => {
        const url = new URL(path.replace(/^\/?/, "/"), "http://actor.invalid");
        const request = new Request(url, init);
        const skip = request.headers.get("x-troupe-skip-ready-wait") === "1";
        return this.forwardRequest(actorId, request, skip);
      },
      gatewayUrl: () => {
        throw new ActorError(
          "unsupported",
          "getGatewayUrl() is not available on the in-process client; call the actor directly.",
        );
      },
      openConnection: async () => {
        const { client, server } = socketPair();
        serveConnection(this, server, undefined);
        return client;
      },
      openRawWebSocket: async () => {
        throw new ActorError(
          "unsupported",
          "Raw WebSockets between actors of one process are not supported; use connect() or actions.",
        );
      },
    };
  }

  /** Forwards a raw request to the actor's onRequest. */
  async forwardRequest(
    actorId: string,
    request: Request,
    skipReadyWait = false,
  ): Promise<Response> {
    const inst = await this.instanceForRaw(actorId, skipReadyWait);
    const response = await inst.handleRequest(request, skipReadyWait);
    if (response instanceof Response) return response;
    return Response.json(
      {
        error: {
          code: "not_found",
          message: `The actor "${inst.name}" did not handle ${new URL(request.url).pathname}.`,
        },
      },
      { status: 404, headers: { "x-troupe-error": "not_found" } },
    );
  }

  // ---- errors ------------------------------------------------------------------------------

  /** The body a client may see for an error; logs anything internal with its context. */
  errorBody(err: unknown, context: Record<string, unknown>): { status: number; body: ErrorBody } {
    if (err instanceof UserError) {
      return {
        status: err.status,
        body: { code: err.code, message: err.message, metadata: err.metadata },
      };
    }
    if (err instanceof TroupeError && err.public) {
      return {
        status: err.status,
        body: { code: err.code, message: err.message, metadata: err.metadata },
      };
    }
    this.log.error("internal error", { ...context, error: err });
    const message =
      this.exposeErrors && err instanceof Error
        ? err.message
        : "Internal error. Read the server logs for more details.";
    return { status: 500, body: { code: "internal_error", message } };
  }

  toActorError(err: unknown, context: Record<string, unknown>): ActorError {
    if (err instanceof ActorError) return err;
    const { body } = this.errorBody(err, context);
    return new ActorError(body.code, body.message, body.metadata);
  }

  // ---- shutdown ----------------------------------------------------------------------------

  /** Stops every live actor (saving its state), flushes storage and closes the driver. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.alarms.close();
    await Promise.allSettled(this.placement.live().map((i) => i.stop("shutdown")));
    await this.committer.flush().catch(() => {});
    await this.driver.close();
  }
}

/** Whether a call must pass the actor's connection hooks (see PROTOCOL.md, actions). */
function needsConnectionChecks(inst: ActorInstance, caller: Caller): boolean {
  return caller.params !== undefined || (inst.checksConnections && !caller.inProcess);
}

/** What an in-process caller gets back: the reply as it would arrive over the wire. */
function copyOutput(out: unknown): unknown {
  return jsonCopy(wireOutput(out));
}

function isStopping(err: unknown): boolean {
  return err instanceof TroupeError && err.code === "actor_stopping";
}

/**
 * Alarms in one process: one clock timer per actor with alarms, awake or asleep, re-armed from
 * storage when the engine starts. A failed run is logged and retried a second later.
 */
class TimerAlarms implements AlarmService {
  private readonly timers = new Map<string, { at: number; handle: TimerHandle }>();
  private closed = false;

  constructor(private readonly engine: Engine) {}

  restore(alarms: { actorId: string; at: number }[]): void {
    for (const { actorId, at } of alarms) this.set(actorId, at);
  }

  set(actorId: string, at: number | null): void {
    const clock = this.engine.clock;
    const current = this.timers.get(actorId);
    if (current && current.at === at) return;
    if (current) clock.clearTimeout(current.handle);
    this.timers.delete(actorId);
    if (at === null || this.closed) return;
    const handle = clock.setTimeout(() => {
      this.timers.delete(actorId);
      // Long delays are clamped by the platform timer: if it fired early, wait again.
      if (clock.now() < at) this.set(actorId, at);
      else void this.fire(actorId);
    }, at - clock.now());
    this.timers.set(actorId, { at, handle });
  }

  private async fire(actorId: string): Promise<void> {
    try {
      await this.engine.runAlarm(actorId);
    } catch (err) {
      if (this.closed) return;
      this.engine.log.error("could not run an alarm; retrying in 1 s", { actorId, error: err });
      const clock = this.engine.clock;
      const handle = clock.setTimeout(() => void this.fire(actorId), 1000);
      this.timers.set(actorId, { at: clock.now() + 1000, handle });
    }
  }

  close(): void {
    this.closed = true;
    for (const { handle } of this.timers.values()) this.engine.clock.clearTimeout(handle);
    this.timers.clear();
  }
}
