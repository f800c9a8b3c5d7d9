// The realtime spec pages' examples (connections, events, authentication, schedule) on Troupe,
// written with the same API shapes, through the typed client over real sockets.
import { actor, setup, UserError } from "troupe";
import { ActorError, createClient } from "troupe/client";
import { setupTest } from "troupe/test";
import { describe, expect, test } from "vitest";
import { until } from "./support.js";

describe("actors-events and actors-connections", () => {
  test("broadcast, conn.send to one player, once, unsubscribe, onConnect with c.conn, kick", async () => {
    interface ConnState {
      playerId: string;
      role: string;
    }
    const gameRoom = actor({
      state: { started: false, players: {} as Record<string, { x: number; y: number }> },
      connState: { playerId: "", role: "player" } as ConnState,
      createConnState: (_c, params: { playerId: string; role?: string }): ConnState => ({
        playerId: params.playerId,
        role: params.role || "player",
      }),
      onConnect: (c) => {
        c.state.players[c.conn.state.playerId] = { x: 0, y: 0 };
      },
      actions: {
        startGame: (c) => {
          c.state.started = true;
          c.broadcast("gameStarted", {});
        },
        sendPrivateMessage: (c, targetPlayerId: string, message: string) => {
          let target = null;
          for (const conn of c.conns.values())
            if (conn.state.playerId === targetPlayerId) target = conn;
          if (!target)
            throw new UserError("Player not found or not connected", { code: "not_found" });
          target.send("privateMessage", { from: c.conn?.state.playerId, message });
        },
        updatePlayerPosition: (c, position: { x: number; y: number }) => {
          const playerId = c.conn?.state.playerId;
          if (!playerId) return;
          c.state.players[playerId] = position;
          for (const conn of c.conns.values()) {
            if (conn.state.playerId !== playerId) conn.send("playerMoved", { playerId, position });
          }
        },
        kickUser: (c, targetUserId: string, reason?: string) => {
          for (const conn of c.conns.values()) {
            if (conn.state.playerId === targetUserId) conn.disconnect(reason || "Kicked by admin");
          }
        },
      },
    });
    const registry = setup({ use: { gameRoom } });
    const t = await setupTest(registry, { clock: "system" });
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
      await until(() => alice.status === "connected" && bob.status === "connected");
      await new Promise((r) => setTimeout(r, 20)); // bob's subscriptions reach the server
      await alice.startGame();
      await alice.startGame();
      await alice.sendPrivateMessage("bob", "hi");
      await alice.updatePlayerPosition({ x: 1, y: 2 });
      await until(() => got.length >= 5);
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
      await alice.kickUser("bob", "bye");
      await until(() => bob.status === "disconnected");
      expect(closed).toEqual([4000]);
      await alice.dispose();
    } finally {
      await t.close();
    }
  });
});

describe("actors-authentication", () => {
  test("token checks in createConnState for connections and stateless calls; conn.on('error')", async () => {
    async function validateToken(token: string, roomKey: string[]) {
      return token === "valid" && roomKey.length > 0 ? { sub: "user-123", role: "member" } : null;
    }
    const chatRoom = actor({
      state: { messages: [] as { userId: string; text: string }[] },
      createConnState: async (
        c,
        params: { authToken: string },
      ): Promise<{ userId: string; role: string }> => {
        const payload = await validateToken(params?.authToken ?? "", c.key);
        if (!payload) throw new UserError("Forbidden", { code: "forbidden" });
        return { userId: payload.sub, role: payload.role };
      },
      actions: {
        sendMessage: (c, text: string) => {
          c.state.messages.push({ userId: c.conn.state.userId, text });
          return c.state.messages.length;
        },
      },
    });
    const byHeader = actor({
      state: {},
      onBeforeConnect: (c) => {
        const auth = (c as { request?: Request }).request?.headers.get("authorization");
        if (auth !== "Bearer my-token") throw new UserError("Forbidden", { code: "forbidden" });
      },
      actions: { whoami: () => "authorized" },
    });
    const registry = setup({ use: { chatRoom, byHeader } });
    const t = await setupTest(registry, { clock: "system" });
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
      await until(() => seen.length > 0);
      expect(seen).toEqual(["forbidden"]);
      const stateless = await t.client.chatRoom
        .getOrCreate(["general"])
        .sendMessage("x")
        .catch((e) => e);
      expect(stateless).toBeInstanceOf(ActorError);
      expect(stateless.code).toBe("forbidden");
      const withHeaders = createClient<typeof registry>({
        endpoint: t.endpoint,
        headers: { Authorization: "Bearer my-token" },
      });
      expect(await withHeaders.byHeader.getOrCreate(["h"]).whoami()).toBe("authorized");
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
});

describe("actors-schedule full example", () => {
  test("a reminder goes to connected clients with conn.send when it fires", async () => {
    const reminderService = actor({
      state: {
        reminders: {} as Record<string, { userId: string; message: string; scheduledFor: number }>,
      },
      actions: {
        setReminder: (c, userId: string, message: string, delayMs: number) => {
          const reminderId = crypto.randomUUID();
          c.state.reminders[reminderId] = { userId, message, scheduledFor: Date.now() + delayMs };
          c.schedule.after(delayMs, "sendReminder", reminderId);
          return { reminderId };
        },
        sendReminder: (c, reminderId: string) => {
          const reminder = c.state.reminders[reminderId];
          if (!reminder) return;
          for (const conn of c.conns.values()) conn.send("reminder", { message: reminder.message });
          delete c.state.reminders[reminderId];
        },
      },
    });
    const registry = setup({ use: { reminderService } });
    const t = await setupTest(registry);
    try {
      const conn = t.client.reminderService.getOrCreate(["u"]).connect();
      const got: string[] = [];
      conn.on("reminder", (r: { message: string }) => got.push(r.message));
      await conn.setReminder("user-1", "stand up", 30_000);
      await t.clock.advance(30_001);
      await until(() => got.length === 1);
      expect(got).toEqual(["stand up"]);
      await conn.dispose();
    } finally {
      await t.close();
    }
  });
});
