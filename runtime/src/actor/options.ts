/** Actor options and their defaults, as in the lifecycle spec's options table. */

export interface ActorOptions {
  /** Timeout for `createVars` (ms). */
  createVarsTimeout: number;
  /** Timeout for `createConnState` (ms). */
  createConnStateTimeout: number;
  /** Timeout for `onBeforeCreate` (ms). Troupe's own; not in the spec's table. */
  onBeforeCreateTimeout: number;
  /** Timeout for `onConnect` (ms). */
  onConnectTimeout: number;
  /** Timeout for `onSleep` (ms). */
  onSleepTimeout: number;
  /** Timeout for `onDestroy` (ms). */
  onDestroyTimeout: number;
  /** Longest a changed state may stay unsaved when nothing else forces a write (ms). */
  stateSaveInterval: number;
  /** Timeout for one action (ms). */
  actionTimeout: number;
  /** Longest the actor waits for `waitUntil` / `runInBackground` promises when stopping (ms). */
  waitUntilTimeout: number;
  /** How long a connection may stay silent after a ping before it is dropped (ms). */
  connectionLivenessTimeout: number;
  /** How often connections are pinged (ms). */
  connectionLivenessInterval: number;
  /** Never put this actor to sleep. */
  noSleep: boolean;
  /** Idle time before the actor sleeps (ms). */
  sleepTimeout: number;
  /** Accepted for compatibility; WebSocket hibernation is not implemented. */
  canHibernateWebSocket: boolean | ((request: Request) => boolean);
}

export const DEFAULT_ACTOR_OPTIONS: ActorOptions = {
  createVarsTimeout: 5000,
  createConnStateTimeout: 5000,
  onBeforeCreateTimeout: 5000,
  onConnectTimeout: 5000,
  onSleepTimeout: 5000,
  onDestroyTimeout: 5000,
  stateSaveInterval: 10_000,
  actionTimeout: 60_000,
  waitUntilTimeout: 15_000,
  connectionLivenessTimeout: 2500,
  connectionLivenessInterval: 5000,
  noSleep: false,
  sleepTimeout: 30_000,
  canHibernateWebSocket: false,
};
