import { describe, expect, it } from "vitest";
import {
  AUTO_RESEND_MS,
  loadPending,
  newClientId,
  type PendingMessage,
  pendingKey,
  restorePending,
  savePending,
  sendFailureKind,
} from "./pending.js";

function memoryStorage() {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (k: string) => items.get(k) ?? null,
    setItem: (k: string, v: string) => void items.set(k, v),
    removeItem: (k: string) => void items.delete(k),
  };
}

const entry = (over: Partial<PendingMessage> = {}): PendingMessage => ({
  clientId: newClientId(),
  text: "hello",
  createdAt: 1_000_000,
  status: "sending",
  ...over,
});

describe("pending messages", () => {
  it("are saved per organisation, room and person, and read back as saved", () => {
    const storage = memoryStorage();
    const key = pendingKey("acme", "room-1", "user-1");
    expect(key).not.toBe(pendingKey("acme", "room-1", "user-2"));
    expect(key).not.toBe(pendingKey("acme", "room-2", "user-1"));
    const list = [entry({ text: "one" }), entry({ text: "two", status: "failed", error: "x" })];
    savePending(storage, key, list);
    expect(loadPending(storage, key)).toEqual(list);
    // An empty queue removes the key.
    savePending(storage, key, []);
    expect(storage.items.has(key)).toBe(false);
  });

  it("read nothing from garbage, and drop malformed entries", () => {
    const storage = memoryStorage();
    storage.setItem("k", "{not json");
    expect(loadPending(storage, "k")).toEqual([]);
    storage.setItem("k", JSON.stringify({ clientId: "a" }));
    expect(loadPending(storage, "k")).toEqual([]);
    const good = entry();
    storage.setItem("k", JSON.stringify([good, { clientId: 1 }, null, { ...good, status: "x" }]));
    expect(loadPending(storage, "k")).toEqual([good]);
    expect(loadPending(undefined, "k")).toEqual([]);
    const broken = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("full");
      },
      removeItem: () => {},
    };
    expect(loadPending(broken, "k")).toEqual([]);
    expect(() => savePending(broken, "k", [good])).not.toThrow();
  });

  it("after a reload, young messages are sent again and old ones wait as Not sent", () => {
    const now = 10_000_000;
    const young = entry({ createdAt: now - 5_000 });
    const old = entry({ createdAt: now - AUTO_RESEND_MS - 1 });
    const failed = entry({ createdAt: now - 1_000, status: "failed", error: "Not sent." });
    const restored = restorePending([young, old, failed], now);
    expect(restored[0]).toEqual(young);
    expect(restored[1]).toMatchObject({ clientId: old.clientId, text: "hello", status: "failed" });
    expect(restored[2]).toEqual(failed);
  });

  it("client ids are unique and long enough for the room's check", () => {
    const ids = new Set(Array.from({ length: 1000 }, newClientId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id.length).toBeGreaterThanOrEqual(8);
  });

  it("a lost reply is resent, no connection marks it Not sent, a refusal gives it back", () => {
    expect(sendFailureKind("connection_lost")).toBe("resend");
    expect(sendFailureKind("connection_unavailable")).toBe("failed");
    expect(sendFailureKind("network_error")).toBe("failed");
    expect(sendFailureKind(undefined)).toBe("failed");
    expect(sendFailureKind("invalid_input")).toBe("refused");
    expect(sendFailureKind("forbidden")).toBe("refused");
  });
});
