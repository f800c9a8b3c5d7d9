/**
 * Lists of people a room keeps current with join and leave events after a load gave the whole
 * list: who is online (`presence`) and who is a member (`memberJoined` / `memberLeft`).
 *
 * The load's answer (`getRoom`) can arrive after events the room sent later: a reply leaves once
 * the room's writes are durable, events do not wait. So the events heard while a load is on its
 * way are kept and applied again on top of its answer. Applying is by person (the last event of a
 * person wins), so an event the answer already reflects changes nothing.
 */
import { useCallback, useRef, useState } from "react";

export interface Person {
  userId: string;
  name: string;
}

export interface JoinOrLeave extends Person {
  type: "join" | "leave";
}

/** `people` after the events, in order (the last event of a person wins). */
export function applyJoinsAndLeaves(people: Person[], events: JoinOrLeave[]): Person[] {
  let list = people;
  for (const e of events) {
    const rest = list.filter((p) => p.userId !== e.userId);
    list = e.type === "join" ? [...rest, { userId: e.userId, name: e.name }] : rest;
  }
  return list;
}

/**
 * A list of people kept by events: `beginLoad()` when a load starts, `apply(event)` for every
 * event, `loaded(answer)` with the load's list.
 */
export function usePeople() {
  const [people, setPeople] = useState<Person[]>([]);
  /** Events heard since the load on its way started; null when no load is. */
  const sinceLoad = useRef<JoinOrLeave[] | null>(null);
  const beginLoad = useCallback(() => {
    sinceLoad.current = [];
  }, []);
  const apply = useCallback((event: JoinOrLeave) => {
    sinceLoad.current?.push(event);
    setPeople((prev) => applyJoinsAndLeaves(prev, [event]));
  }, []);
  const loaded = useCallback((answer: Person[]) => {
    const since = sinceLoad.current ?? [];
    sinceLoad.current = null;
    setPeople(applyJoinsAndLeaves(answer, since));
  }, []);
  return { people, beginLoad, apply, loaded };
}
