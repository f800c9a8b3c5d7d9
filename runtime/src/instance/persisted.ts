/**
 * The format an actor's data is stored in. It carries a version; every older version has an
 * explicit upgrade function, so actors stored by an earlier runtime load after a format change.
 * To change the format: bump CURRENT_VERSION, add `upgrades[old]`, never edit an old upgrade.
 */

export interface ScheduledEvent {
  id: string;
  /** When to run (ms since epoch). */
  at: number;
  action: string;
  args: unknown[];
}

export interface PersistedActor {
  v: typeof CURRENT_VERSION;
  state: unknown;
  /** Set once `onCreate` has finished. */
  initialized: boolean;
  /** Pending alarms, soonest first. */
  schedule: ScheduledEvent[];
}

export const CURRENT_VERSION = 1;

const upgrades: Record<number, (old: any) => any> = {
  // 1 -> 2 would go here.
};

export function encodePersisted(data: PersistedActor): string {
  return JSON.stringify(data);
}

export function decodePersisted(text: string): PersistedActor {
  let data = JSON.parse(text) as { v: number };
  if (typeof data?.v !== "number") throw new Error("Stored actor data has no format version.");
  if (data.v > CURRENT_VERSION) {
    throw new Error(
      `Stored actor data is format v${data.v}, newer than this runtime (v${CURRENT_VERSION}). Upgrade troupe.`,
    );
  }
  while (data.v < CURRENT_VERSION) {
    const upgrade = upgrades[data.v];
    if (!upgrade) throw new Error(`No upgrade from stored actor format v${data.v}.`);
    data = upgrade(data);
  }
  return data as PersistedActor;
}

/** The next alarm time stored in an actor's data (null: none), without waking the actor. */
export function storedNextAlarm(text: string): number | null {
  return decodePersisted(text).schedule[0]?.at ?? null;
}
