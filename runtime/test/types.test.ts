// Type inference: checked by `pnpm typecheck` (tsc) and run as ordinary tests by Vitest.
import {
  type ActionContextOf,
  type ActorContextOf,
  actor,
  type Conn,
  type EventSpec,
  type EventsOf,
  event,
  setup,
} from "troupe";
import { type ActorError, createClient } from "troupe/client";
import { createRivetKit } from "troupe/react";
import { describe, expect, expectTypeOf, test } from "vitest";

const counter = actor({
  state: { count: 0 },
  actions: {
    increment: (c, amount: number) => (c.state.count += amount),
    label: async (c, prefix: string, suffix?: string) => `${prefix}${c.state.count}${suffix ?? ""}`,
  },
});
const room = actor({
  createState: (_c: unknown, input: { topic: string }) => ({
    topic: input.topic,
    messages: [] as string[],
  }),
  createVars: () => ({ seen: new Set<string>() }),
  actions: {
    topic: (c) => c.state.topic,
    seen: (c) => c.vars.seen.size,
  },
});
type Position = { x: number; y: number };
/** Declares its events, as RivetKit does: sends and listeners are checked against them. */
const game = actor({
  state: { players: {} as Record<string, Position> },
  events: { moved: event<Position>(), reset: event(), said: event<string>() },
  onConnect: (c, conn) => {
    conn.send("said", "welcome");
    // @ts-expect-error payload of the wrong type, in a hook
    c.broadcast("said", 1);
  },
  actions: {
    move: (c, id: string, to: Position) => {
      c.state.players[id] = to;
      c.broadcast("moved", to);
      c.conn!.send("moved", to);
      for (const conn of c.conns.values()) conn.send("said", "hi");
      // @ts-expect-error an event the actor did not declare
      c.broadcast("teleported", to);
      // @ts-expect-error payload of the wrong shape
      c.broadcast("moved", { x: 1 });
      // @ts-expect-error a payload is required
      c.broadcast("moved");
      // @ts-expect-error reset carries no payload
      c.broadcast("reset", 1);
      // @ts-expect-error conn.send is checked too
      c.conn!.send("said", 1);
    },
    reset: (c) => c.broadcast("reset"),
  },
});
/** Declares no events: any name and arguments, as in the spec's examples. */
const loose = actor({
  state: {},
  actions: {
    shout: (c, ...args: unknown[]) => {
      c.broadcast("anything", ...args);
      c.broadcast("two", 1, "b");
      c.conn!.send("direct");
    },
  },
});
const registry = setup({ use: { counter, room, game, loose } });

/**
 * Nothing listens on port 1: a connection opened there reports the refusal (to the console when
 * it has no onError listener) and retries for ever. Listen, check the report, and stop it.
 */
async function refused(conn: {
  onError(cb: (error: { code: string; message: string }) => void): () => void;
  dispose(): Promise<void>;
}): Promise<void> {
  const error = await new Promise<{ code: string; message: string }>((resolve) => {
    conn.onError(resolve);
  });
  expect(error.code).toBe("network_error");
  expect(error.message).toMatch(/^Could not connect to actor ".+": .*ECONNREFUSED.*\. Retrying\.$/);
  await conn.dispose();
}

describe("types", () => {
  test("the typed client knows actor names, action parameters and results", () => {
    const client = createClient<typeof registry>("http://localhost:1");
    const h = client.counter.getOrCreate(["k"]);
    expectTypeOf(h.increment).parameters.toEqualTypeOf<[amount: number]>();
    expectTypeOf(h.increment).returns.resolves.toEqualTypeOf<number>();
    expectTypeOf(h.label).returns.resolves.toEqualTypeOf<string>();
    expectTypeOf(client.room.getOrCreate(["r"]).topic).returns.resolves.toEqualTypeOf<string>();
    // @ts-expect-error wrong argument type
    void (() => h.increment("one"));
    // @ts-expect-error unknown action
    void (() => h.decrement(1));
    // @ts-expect-error unknown actor
    void (() => client.nope);
    // createWithInput and input are typed from createState
    void (() => client.room.getOrCreate(["r"], { createWithInput: { topic: "x" } }));
    // @ts-expect-error input of the wrong shape
    void (() => client.room.create(["r"], { input: { topic: 1 } }));
    // dispose() is the client's own, typed or not
    expectTypeOf(client.dispose).toEqualTypeOf<() => Promise<void>>();
    expectTypeOf(createClient("http://localhost:1").dispose).returns.resolves.toBeVoid();
  });

  test("declared events type the client's listeners", async () => {
    const client = createClient<typeof registry>("http://localhost:1");
    const conn = client.game.getOrCreate(["g"]).connect();
    conn.on("moved", (to) => expectTypeOf(to).toEqualTypeOf<Position>());
    conn.once("said", (text) => expectTypeOf(text).toEqualTypeOf<string>());
    conn.on("reset", (...args) => expectTypeOf(args).toEqualTypeOf<[]>());
    conn.on("moved", (to: Position) => to.x);
    // @ts-expect-error an event the actor does not send
    conn.on("teleported", () => {});
    // @ts-expect-error a handler for another payload
    conn.on("said", (n: number) => n);
    expectTypeOf<EventsOf<typeof game>["moved"]>().toEqualTypeOf<EventSpec<Position>>();
    expectTypeOf<Parameters<ActionContextOf<typeof game>["broadcast"]>[0]>().toEqualTypeOf<
      "moved" | "reset" | "said"
    >();
    await refused(conn);
  });

  test("conn.notify has the actor's actions, with their parameters, returning a boolean", async () => {
    const client = createClient<typeof registry>("http://localhost:1");
    const conn = client.counter.getOrCreate(["n"]).connect();
    expectTypeOf(conn.notify.increment).toEqualTypeOf<(amount: number) => boolean>();
    expectTypeOf(conn.notify.label).parameters.toEqualTypeOf<[prefix: string, suffix?: string]>();
    // @ts-expect-error wrong argument type
    void (() => conn.notify.increment("one"));
    // @ts-expect-error unknown action
    void (() => conn.notify.decrement(1));
    // Untyped: any name and arguments.
    const untyped = createClient("http://localhost:1").whatever.getOrCreate().connect();
    expectTypeOf(untyped.notify.anything).returns.toEqualTypeOf<boolean>();
    await Promise.all([refused(conn), refused(untyped)]);
  });

  test("actors without events keep untyped listeners (the spec's examples)", async () => {
    const client = createClient<typeof registry>("http://localhost:1");
    const conn = client.loose.getOrCreate(["l"]).connect();
    conn.on("anything", (message: { userId: string; text: string }) => message.text);
    conn.on("two", (a, b) => {
      expectTypeOf(a).toBeAny();
      expectTypeOf(b).toBeAny();
    });
    const untyped = createClient("http://localhost:1").whatever.getOrCreate().connect();
    untyped.once("x", (n: number, s: string) => [n, s]);
    await Promise.all([refused(conn), refused(untyped)]);
  });

  test("useEvent is typed by the actor's events", () => {
    const { useActor } = createRivetKit<typeof registry>("http://localhost:1");
    // Type-level only: the hooks are never called here.
    const typedUse = (actorState: ReturnType<typeof useActor<"game">>) => {
      actorState.useEvent("moved", (to) => expectTypeOf(to).toEqualTypeOf<Position>());
      // @ts-expect-error an event the actor does not send
      actorState.useEvent("teleported", () => {});
      // @ts-expect-error a handler for another payload
      actorState.useEvent("said", (n: number) => n);
    };
    const looseUse = (actorState: ReturnType<typeof useActor<"loose">>) => {
      actorState.useEvent("anything", (m: { text: string }) => m.text);
    };
    const anyKit = createRivetKit("http://localhost:1");
    const anyUse = (actorState: ReturnType<typeof anyKit.useActor>) => {
      actorState.useEvent("anything", (m: { text: string }) => m.text);
    };
    void [typedUse, looseUse, anyUse];
  });

  test("helper types give the actor's context", () => {
    expectTypeOf<ActionContextOf<typeof counter>["state"]>().toEqualTypeOf<{ count: number }>();
    expectTypeOf<ActorContextOf<typeof room>["state"]>().toEqualTypeOf<{
      topic: string;
      messages: string[];
    }>();
    expectTypeOf<ActorContextOf<typeof room>["vars"]>().toEqualTypeOf<{ seen: Set<string> }>();
    expectTypeOf<ActorError["code"]>().toEqualTypeOf<string>();
  });

  test("c.conn may be undefined in actions, never in onConnect / onDisconnect", () => {
    type ActionConn = ActionContextOf<typeof game>["conn"];
    expectTypeOf<undefined>().toExtend<ActionConn>();
    expectTypeOf<NonNullable<ActionConn>>().toExtend<Conn>();
    actor({
      state: {},
      connState: { name: "" },
      onConnect: (c, conn) => {
        expectTypeOf(c.conn).toEqualTypeOf(conn);
      },
      onDisconnect: (c) => {
        expectTypeOf(c.conn).not.toBeNullable();
      },
      actions: {
        // @ts-expect-error c.conn is undefined for alarms and trusted in-process calls
        name: (c) => c.conn.state.name,
        nameOrNone: (c) => c.conn?.state.name,
      },
    });
  });
});
