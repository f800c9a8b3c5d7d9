/**
 * Which live views are getting their connection back, for the "Reconnecting…" banner.
 *
 * Each view (each `useChatActor` call) reports for itself, under its own token: two views of the
 * same actor share one connection but not one entry, so one that has never been connected (it
 * mounted during the outage) or that unmounts cannot clear what the other reports. (Keyed by
 * actor, the last view to report won: the banner could vanish during an outage or outlive it.)
 */
export class ReconnectTracker {
  private readonly reporting = new Set<object>();
  private readonly listeners = new Set<() => void>();

  /** `who` (one view) is reconnecting, or not any more. */
  set(who: object, value: boolean): void {
    if (value === this.reporting.has(who)) return;
    if (value) this.reporting.add(who);
    else this.reporting.delete(who);
    for (const l of this.listeners) l();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Whether any view is reconnecting. */
  any = (): boolean => this.reporting.size > 0;
}
