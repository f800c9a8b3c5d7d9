// The realtime spec pages' examples (connections, events, authentication, schedule) on Troupe,
// written with the same API shapes, through the typed client over real sockets. The example
// actors live in fixtures/spec-examples/actors.ts; each test runs on Node and on workerd
// (troupe/cloudflare, see spec-targets.ts) with the same client calls.
import { ActorError, createClient } from "troupe/client";
import { waitFor } from "troupe/test";
import { describe, expect, test } from "vitest";
import { authRegistry, eventsRegistry, scheduleRegistry } from "./fixtures/spec-examples/actors.js";
import { serve, TARGETS } from "./spec-targets.js";

// workerd's start and each Durable Object's first call are slow on a loaded machine.
const SLOW = { timeout: 60_000, interval: 50 };

describe.each(TARGETS)("realtime spec examples on %s", (target) => {
  test("actors-events and actors-connections: broadcast, conn.send to one player, once, unsubscribe, onConnect with c.conn, kick", {
    timeout: 120_000,
  }, async () => {
    const t = await serve(target, eventsRegistry(), { clock: "system" });
    try {
      const alice = t.client.gameRoom
        .getOrCreate(["room-456"], { params: { playerId: "alice" } })
        .connect();
      const bob = t.client.gameRoom
        .getOrCreate(["room-456"], { params: { playerId: "bob" } })
        .connect();
      const got: string[] = [];
      alice.once("gameStarted", () => got.push("alice:started"));
      bob.on("gameStarted", () => got.push("bob:started"));
      const off = bob.on("privateMessage", (m: { from: string; message: string }) =>
        got.push(`bob<-${m.from}:${m.message}`),
      );
      bob.on("playerMoved", (m: { playerId: string }) => got.push(`bob saw ${m.playerId} move`));
      await waitFor(() => alice.status === "connected" && bob.status === "connected", {
        ...SLOW,
        what: "both connections",
      });
      // A call on each socket after its subscriptions: the server has them once it answers.
      for (const conn of [alice, bob]) {
        expect((await conn.sendPrivateMessage("nobody", "").catch((e) => e)).code).toBe(
          "not_found",
        );
      }
      await alice.startGame();
      await alice.startGame();
      await alice.sendPrivateMessage("bob", "hi");
      await alice.updatePlayerPosition({ x: 1, y: 2 });
      await waitFor(() => got.length >= 5, { ...SLOW, what: "five events" });
      expect(got.sort()).toEqual([
        "alice:started",
        "bob saw alice move",
        "bob:started",
        "bob:started",
        "bob<-alice:hi",
      ]);
      off();
      await alice.sendPrivateMessage("bob", "ignored");
      const missing = await alice.sendPrivateMessage("carol", "x").catch((e) => e);
      expect(missing.code).toBe("not_found");
      const closed: number[] = [];
      bob.onClose((e) => closed.push(e.code));
      const errors: unknown[] = [];
      bob.onError((e) => errors.push([e.code, e.metadata]));
      await alice.kickUser("bob", "bye");
      await waitFor(() => bob.status === "disconnected", { ...SLOW, what: "bob kicked" });
      expect(closed).toEqual([4000]);
      expect(errors).toEqual([["connection_closed", { code: 4000, reason: "bye" }]]);
      expect(got).not.toContain("bob<-alice:ignored");
      await alice.dispose();
    } finally {
      await t.close();
    }
  });

  test("actors-authentication: token checks in createConnState for connections and stateless calls; conn.on('error')", {
    timeout: 120_000,
  }, async () => {
    const t = await serve(target, authRegistry(), { clock: "system" });
    try {
      const chat = t.client.chatRoom.getOrCreate(["general"], { params: { authToken: "valid" } });
      expect(await chat.sendMessage("Hello, world!")).toBe(1); // stateless, params checked
      const conn = chat.connect();
      expect(await conn.sendMessage("over the socket")).toBe(2);
      await conn.dispose();
      const bad = t.client.chatRoom
        .getOrCreate(["general"], { params: { authToken: "nope" } })
        .connect();
      const seen: string[] = [];
      bad.on("error", (error: ActorError) => seen.push(error.code));
      await waitFor(() => seen.length > 0, { ...SLOW, what: "the refusal" });
      expect(seen).toEqual(["forbidden"]);
      await bad.dispose();
      const stateless = await t.client.chatRoom
        .getOrCreate(["general"])
        .sendMessage("x")
        .catch((e) => e);
      expect(stateless).toBeInstanceOf(ActorError);
      expect(stateless.code).toBe("forbidden");
      const withHeaders = createClient<ReturnType<typeof authRegistry>>({
        endpoint: t.endpoint,
        headers: { Authorization: "Bearer my-token" },
      });
      try {
        expect(await withHeaders.byHeader.getOrCreate(["h"]).whoami()).toBe("authorized");
      } finally {
        await withHeaders.dispose();
      }
      expect(
        (
          await t.client.byHeader
            .getOrCreate(["h"])
            .whoami()
            .catch((e) => e)
        ).code,
      ).toBe("forbidden");
    } finally {
      await t.close();
    }
  });

  test("actors-schedule full example: a reminder goes to connected clients with conn.send when it fires", {
    timeout: 120_000,
  }, async () => {
    // Node runs the page's 30 s on the manual clock; workerd has only real time (its Durable
    // Object alarm), so there the reminder is set 300 ms out.
    const t = await serve(target, scheduleRegistry());
    try {
      const conn = t.client.reminderService.getOrCreate(["u"]).connect();
      const got: string[] = [];
      conn.on("reminder", (r: { message: string }) => got.push(r.message));
      const delay = t.clock ? 30_000 : 300;
      await conn.setReminder("user-1", "stand up", delay);
      await t.clock?.advance(delay + 1);
      await waitFor(() => got.length === 1, { ...SLOW, what: "the reminder" });
      expect(got).toEqual(["stand up"]);
      await conn.dispose();
    } finally {
      await t.close();
    }
  });
});
