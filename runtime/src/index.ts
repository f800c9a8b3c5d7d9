/**
 * `troupe`: define actors and serve them.
 *
 * @example
 * import { actor, setup } from "troupe";
 * const counter = actor({
 *   state: { count: 0 },
 *   actions: { increment: (c, amount: number) => (c.state.count += amount) },
 * });
 * export const registry = setup({ use: { counter } });
 * registry.serve();
 */

export type {
  ActionContext,
  ActorContext,
  BeforeCreateContext,
  BeforeCreateOptions,
  Conn,
  ConnContext,
} from "./actor/context.js";
export type {
  ActionContextOf,
  ActionsOf,
  ActorConfig,
  ActorContextOf,
  ActorStateOf,
  AnyActorDefinition,
  ConnParamsOf,
  ConnStateOf,
  EventsOf,
  InputOf,
  VarsOf,
} from "./actor/definition.js";
export { ActorDefinition, actor } from "./actor/definition.js";
export { Forbidden, Unauthorized, UserError } from "./actor/errors.js";
export { type EventSpec, type EventsSpec, event } from "./actor/events.js";
export type { ActorKv } from "./actor/kv-types.js";
export type { ActorOptions } from "./actor/options.js";
export type { Client } from "./client/types.js";
export { ERROR_CODES } from "./errors.js";
export type { Logger } from "./log.js";
export type { CorsOptions } from "./protocol/cors.js";
export type { RegistryConfig, RunningServer, ServeOptions } from "./registry/registry.js";
export { Registry, setup } from "./registry/registry.js";
export type { ActorRecord, CommitBatch, StorageDriver } from "./storage/driver.js";
export type { StorageOption } from "./storage/open.js";
