/**
 * The engine runs a registry: it owns the storage driver, the group committer, placement and
 * the clock, and exposes the operations that every transport (HTTP today, WebSocket and
 * in-process calls) maps onto: resolve an actor, call an action, forward a raw request.
 */
import type { AnyActorDefinition } from "../actor/definition.js";
import { UserError } from "../actor/errors.js";
import { createInProcessClient } from "../client/client.js";
import { ActorError } from "../client/errors.js";
import type { Transport } from "../client/transport.js";
import type { Client } from "../client/types.js";
import type { Clock } from "../clock.js";
import { type ErrorBody, TroupeError } from "../errors.js";
import { ActorInstance, type InstanceHost } from "../instance/instance.js";
import type { Logger } from "../log.js";
import { GroupCommitter } from "../storage/commit.js";
import type { ActorRecord, StorageDriver } from "../storage/driver.js";
import { randomId } from "../util.js";
import { type ActorQuery, type InstanceFactory, LocalPlacement } from "./placement.js";

export interface EngineOptions {
  defs: Record<string, AnyActorDefinition>;
  driver: StorageDriver;
  clock: Clock;
  log: Logger;
  /** Send internal error messages to clients (development only). */
  exposeErrors: boolean;
}

export class Engine implements InstanceHost, InstanceFactory {
  readonly driver: StorageDriver;
  readonly committer: GroupCommitter;
  readonly clock: Clock;
  readonly log: Logger;
  readonly placement: LocalPlacement;
  readonly exposeErrors: boolean;
  private closed = false;
  private inProcess: Client<any> | undefined;

  constructor(opts: EngineOptions) {
    this.driver = opts.driver;
    this.clock = opts.clock;
    this.log = opts.log;
    this.exposeErrors = opts.exposeErrors;
    this.committer = new GroupCommitter(opts.driver);
    this.placement = new LocalPlacement(opts.defs, this);
  }

  get actorNames(): string[] {
    return this.placement.actorNames;
  }

  // ---- operations --------------------------------------------------------------------------

  async resolve(query: ActorQuery): Promise<ActorInstance> {
    if (this.closed) throw new TroupeError("actor_stopping", "The server is shutting down.");
    return this.placement.get(query);
  }

  async callAction(query: ActorQuery, action: string, args: unknown): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const inst = await this.resolve(query);
      try {
        return await inst.executeAction(action, args);
      } catch (err) {
        // The instance began stopping between lookup and call: it will be woken again.
        if (isStopping(err) && attempt < 3) continue;
        throw err;
      }
    }
  }

  // ---- InstanceHost ------------------------------------------------------------------------

  client(): Client<any> {
    this.inProcess ??= createInProcessClient(this.transport());
    return this.inProcess;
  }

  instanceStopped(instance: ActorInstance): void {
    this.placement.forget(instance);
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
  ): Promise<ActorInstance | undefined> {
    const id = randomId();
    const inst = new ActorInstance(this, def, { id, name, key });
    const data = await inst.initialData(input);
    const created = await this.driver.createActor({
      id,
      name,
      key,
      createdAt: this.clock.now(),
      data,
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
      action: async (query, action, args) => {
        try {
          const out = await this.callAction(query, action, jsonCopy(args));
          return jsonCopy(out);
        } catch (err) {
          throw this.toActorError(err, { action });
        }
      },
      resolve: async (query) => {
        try {
          return (await this.resolve(query)).id;
        } catch (err) {
          throw this.toActorError(err, {});
        }
      },
      fetch: async (actorId, name, path, init) => {
        const url = new URL(path.replace(/^\/?/, "/"), "http://actor.invalid");
        return this.forwardRequest({ name, id: actorId }, new Request(url, init));
      },
      gatewayUrl: () => {
        throw new ActorError(
          "unsupported",
          "getGatewayUrl() is not available on the in-process client; call the actor directly.",
        );
      },
    };
  }

  /** Forwards a raw request to the actor's onRequest. */
  async forwardRequest(query: ActorQuery, request: Request): Promise<Response> {
    const inst = await this.resolve(query);
    const response = await inst.handleRequest(request);
    if (response instanceof Response) return response;
    const code =
      inst instanceof ActorInstance && response === undefined ? "not_found" : "internal_error";
    return Response.json(
      {
        error: {
          code,
          message: `The actor "${inst.name}" did not handle ${new URL(request.url).pathname}.`,
        },
      },
      { status: 404 },
    );
  }

  // ---- errors ------------------------------------------------------------------------------

  /** The body a client may see for an error; logs anything internal with its context. */
  errorBody(err: unknown, context: Record<string, unknown>): { status: number; body: ErrorBody } {
    if (err instanceof UserError) {
      return {
        status: 400,
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
    await Promise.allSettled(this.placement.live().map((i) => i.stop("shutdown")));
    await this.committer.flush().catch(() => {});
    await this.driver.close();
  }
}

function isStopping(err: unknown): boolean {
  return err instanceof TroupeError && err.code === "actor_stopping";
}

function jsonCopy<T>(value: T): T {
  return value === undefined ? value : JSON.parse(JSON.stringify(value));
}
