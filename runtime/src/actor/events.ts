/**
 * Typed events, as RivetKit declares them: an actor lists its events with `event<Payload>()`, and
 * from then on `c.broadcast` / `conn.send` accept only those names with their payload, and the
 * client's `conn.on` / `once` and React's `useEvent` hand each listener the payload's type.
 * Types only: the declaration costs nothing at run time, and nothing changes on the wire.
 *
 * An actor that declares no events keeps the untyped API of the spec: any name, any arguments,
 * listeners typed `any` (so handlers annotated by hand keep compiling).
 *
 * @example
 * const chatRoom = actor({
 *   state: { messages: [] as Message[] },
 *   events: { messageReceived: event<Message>(), cleared: event() },
 *   actions: {
 *     send: (c, text: string) => c.broadcast("messageReceived", { text }), // checked
 *     clear: (c) => c.broadcast("cleared"), // no payload
 *   },
 * });
 * conn.on("messageReceived", (message) => message.text); // message: Message
 */

declare const payloadType: unique symbol;

/** One declared event; `T` is its payload (`void`: the event carries none). */
export interface EventSpec<T = unknown> {
  /** Phantom: carries the payload type, never set. */
  readonly [payloadType]?: T;
}

/** Declares an event with payload `T` (none when `T` is left out). */
export function event<T = void>(): EventSpec<T> {
  return {};
}

/** An actor's `events`. Also what an actor without `events` has: every name, untyped. */
export type EventsSpec = Record<string, EventSpec<any>>;

/** Whether `E` is the untyped default (no `events` declared): it then has a string index. */
type IsUntyped<E> = string extends keyof E ? true : false;

/** Names an actor may send: the declared ones, or any string for an untyped actor. */
export type EventName<E> = keyof E & string;

/** What `c.broadcast` / `conn.send` take after the name: the payload, none, or anything (untyped). */
export type EventArgs<E, K extends keyof E> =
  IsUntyped<E> extends true
    ? unknown[]
    : E[K] extends EventSpec<infer T>
      ? [T] extends [void]
        ? []
        : [payload: T]
      : never;

/** What a client listener receives: the payload, or `any[]` for an untyped actor. */
export type ListenerArgs<E, K extends keyof E> =
  IsUntyped<E> extends true ? any[] : EventArgs<E, K>;
