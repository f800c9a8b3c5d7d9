/**
 * The connection protocol of PROTOCOL.md ("Connections") on the server: one function drives a
 * socket from `init` to close. It works on `PeerSocket`, which both a `ws` socket (network) and
 * an in-process socket pair (actor to actor) provide, so the protocol lives in one place.
 */

import { ERROR_CODES, TroupeError } from "../errors.js";
import { CLOSE, type Connection, type ServerSocket } from "../instance/connections.js";
import type { ActorInstance } from "../instance/instance.js";
import type { Engine } from "../registry/engine.js";
import { parseQuery } from "./http.js";
import { MAX_EVENT_NAME_LENGTH, MAX_SUBSCRIPTIONS, tooDeep, wireOutput } from "./wire.js";

/** The server end of a WebSocket, as far as the protocol needs it. */
export interface PeerSocket extends ServerSocket {
  onMessage(cb: (data: string, isBinary: boolean) => void): void;
  onClose(cb: () => void): void;
  onPong(cb: () => void): void;
}

/** How long a client has to send `init` after the socket opens. */
export const INIT_TIMEOUT_MS = 10_000;
/** Refused messages tolerated on one connection before it is closed. */
export const MAX_PROTOCOL_ERRORS = 20;

type Phase = "awaiting-init" | "connecting" | "open" | "closed";

export interface ServeConnectionOptions {
  /** The connection is already open (restored after a Durable Object hibernated): no `init`. */
  restored?: { inst: ActorInstance; conn: Connection };
  /** Told once the connection is open (after `welcome` is queued). */
  onOpen?: (conn: Connection, inst: ActorInstance) => void;
}

/**
 * Drives one connection. `request` is the upgrade request of a network socket; undefined means
 * the socket comes from an actor of this process (`c.client().connect()`).
 */
export function serveConnection(
  engine: Engine,
  peer: PeerSocket,
  request: Request | undefined,
  options?: ServeConnectionOptions,
): void {
  let phase: Phase = options?.restored ? "open" : "awaiting-init";
  let conn: Connection | undefined = options?.restored?.conn;
  let inst: ActorInstance | undefined = options?.restored?.inst;
  let refused = 0;

  const sendJson = (msg: unknown) => {
    if (phase === "closed") return;
    let text: string;
    try {
      text = JSON.stringify(msg);
    } catch (err) {
      const id = (msg as { id?: number }).id;
      const { body } = engine.errorBody(err, { actor: inst?.name, reason: "unserializable reply" });
      text = JSON.stringify({ t: "error", id, error: body });
    }
    if (conn) conn.sendFrame(text);
    else peer.send(text);
  };

  /** Counts a refused message; past `MAX_PROTOCOL_ERRORS` the connection is closed. */
  const countRefusal = () => {
    refused++;
    if (refused > MAX_PROTOCOL_ERRORS && phase !== "closed") {
      peer.close(CLOSE.policy, "too_many_errors");
    }
  };

  const refuse = (code: string, message: string, id?: number) => {
    sendJson({ t: "error", ...(id !== undefined ? { id } : {}), error: { code, message } });
    countRefusal();
  };

  const initTimer = options?.restored
    ? undefined
    : engine.clock.setTimeout(() => {
        if (phase !== "awaiting-init") return;
        sendJson({
          t: "error",
          error: { code: "invalid_request", message: "No init message within 10 seconds." },
        });
        peer.close(CLOSE.rejected, "invalid_request");
      }, INIT_TIMEOUT_MS);

  const init = async (msg: Record<string, unknown>) => {
    phase = "connecting";
    engine.clock.clearTimeout(initTimer);
    try {
      const query = parseQuery(msg.actor);
      const subs = initSubscriptions(msg.subs);
      inst = await engine.resolve(query, {
        params: msg.params,
        request,
        inProcess: request === undefined,
      });
      const accepted = await inst.connect(msg.params, request, peer, subs);
      if ((phase as Phase) === "closed") {
        // The client went away while the hooks ran.
        await inst.connectionClosed(accepted);
        return;
      }
      conn = accepted;
      phase = "open";
      sendJson({
        t: "welcome",
        connId: conn.id,
        actorId: inst.id,
        maxMessageSize: engine.maxIncomingMessageSize,
      });
      options?.onOpen?.(conn, inst);
    } catch (err) {
      const { body } = engine.errorBody(err, { actor: inst?.name, during: "connect" });
      sendJson({ t: "error", error: body });
      phase = "closed";
      peer.close(CLOSE.rejected, body.code);
    }
  };

  const action = (msg: Record<string, unknown>) => {
    const id = msg.id;
    if (id !== undefined && !isCallId(id)) {
      return refuse("invalid_message", 'An action\'s "id", when given, is a positive integer.');
    }
    if (typeof msg.name !== "string")
      return refuse("invalid_message", 'An action needs a "name".', id);
    if (!Array.isArray(msg.args)) {
      return refuse("invalid_arguments", 'Action arguments must be a JSON array in "args".', id);
    }
    const current = conn!;
    const target = inst!;
    const name = msg.name;
    // No `id`: a notification, which gets no reply (PROTOCOL.md).
    if (id === undefined) {
      // Runs as any call does; only a failure is answered, without an id, and it counts as a
      // refused message, so a client flooding failing notifications is cut off as for bad frames.
      // A synchronous action that changed nothing ends inside notifyAction, without a promise.
      let running: Promise<unknown> | undefined;
      try {
        running = target.notifyAction(name, msg.args, current);
      } catch (err) {
        return notificationFailed(err, target, name, current);
      }
      running?.then(undefined, (err) => notificationFailed(err, target, name, current));
      return;
    }
    target.executeAction(name, msg.args, current).then(
      (output) => sendJson({ t: "result", id, output: wireOutput(output) }),
      (err) => sendJson({ t: "error", id, error: failureBody(err, target, name, current) }),
    );
  };

  const failureBody = (err: unknown, target: ActorInstance, action: string, on: Connection) =>
    engine.errorBody(err, { actor: target.name, action, connId: on.id }).body;

  const notificationFailed = (
    err: unknown,
    target: ActorInstance,
    action: string,
    on: Connection,
  ) => {
    sendJson({ t: "error", error: failureBody(err, target, action, on) });
    countRefusal();
  };

  /** `sub` / `unsub`, capped so one socket cannot make the server hold unbounded names. */
  const subscription = (subscribe: boolean, event: string) => {
    if (event.length > MAX_EVENT_NAME_LENGTH) {
      return refuse(
        "event_name_too_long",
        `Event names are at most ${MAX_EVENT_NAME_LENGTH} characters (MAX_EVENT_NAME_LENGTH).`,
      );
    }
    const subs = conn!.subscriptions;
    if (!subscribe) subs.delete(event);
    else if (subs.size < MAX_SUBSCRIPTIONS || subs.has(event)) subs.add(event);
    else {
      refuse(
        "too_many_subscriptions",
        `A connection subscribes to at most ${MAX_SUBSCRIPTIONS} event names (MAX_SUBSCRIPTIONS); unsubscribe from one first.`,
      );
    }
  };

  peer.onMessage((data, isBinary) => {
    if (phase === "closed") return;
    if (isBinary) return refuse("invalid_message", "Binary frames are not part of the protocol.");
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      return refuse("invalid_message", "A frame is not valid JSON.");
    }
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
      return refuse("invalid_message", "A frame must be a JSON object.");
    }
    const m = msg as Record<string, unknown>;
    if (tooDeep(data, m)) {
      return refuse(
        "too_deep",
        ERROR_CODES.too_deep.message,
        typeof m.id === "number" ? m.id : undefined,
      );
    }
    if (typeof m.t !== "string") return refuse("invalid_message", 'A frame needs a "t" (type).');
    switch (m.t) {
      case "init":
        if (phase !== "awaiting-init") return refuse("invalid_message", "Already initialized.");
        void init(m);
        return;
      case "action":
        if (phase !== "open")
          return refuse("not_connected", "Wait for welcome before calling actions.");
        return action(m);
      case "sub":
      case "unsub":
        if (phase !== "open")
          return refuse("not_connected", "Wait for welcome before subscribing.");
        if (typeof m.event !== "string")
          return refuse("invalid_message", 'A subscription needs an "event".');
        return subscription(m.t === "sub", m.event);
      default:
        return refuse("unknown_message_type", `Unknown message type "${m.t.slice(0, 40)}".`);
    }
  });

  peer.onPong(() => conn?.pong());

  peer.onClose(() => {
    const wasOpen = phase === "open";
    phase = "closed";
    engine.clock.clearTimeout(initTimer);
    if (wasOpen && conn && inst) void inst.connectionClosed(conn);
  });
}

/** A call's `id`: a positive integer. */
function isCallId(id: unknown): id is number {
  return typeof id === "number" && Number.isSafeInteger(id) && id > 0;
}

/**
 * `init`'s optional `subs`: the event names the client listens to from the start, under the
 * same caps as `sub`. A bad list refuses the connection (the client sent a malformed `init`).
 */
function initSubscriptions(subs: unknown): string[] {
  if (subs === undefined) return [];
  if (!Array.isArray(subs) || !subs.every((name) => typeof name === "string")) {
    throw new TroupeError("invalid_request", '"subs" in init must be an array of event names.');
  }
  const names = [...new Set(subs as string[])];
  if (names.length > MAX_SUBSCRIPTIONS) {
    throw new TroupeError(
      "invalid_request",
      `A connection subscribes to at most ${MAX_SUBSCRIPTIONS} event names (MAX_SUBSCRIPTIONS).`,
    );
  }
  if (names.some((name) => name.length > MAX_EVENT_NAME_LENGTH)) {
    throw new TroupeError(
      "invalid_request",
      `Event names are at most ${MAX_EVENT_NAME_LENGTH} characters (MAX_EVENT_NAME_LENGTH).`,
    );
  }
  return names;
}
