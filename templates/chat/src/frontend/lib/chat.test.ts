// @vitest-environment happy-dom
// The page's connections wait for the server exactly as long as the reconnect banner and the
// "Not sent" note say (SEND_WAIT_SECONDS): lib/chat.ts hands that figure to the hooks' client as
// `queueTimeout`. troupe/react is the real one, watched on the way through; runtime's
// test/react.test.tsx shows that the option reaches every connection and bounds the wait.
import { describe, expect, it, vi } from "vitest";

const kits = vi.hoisted(() => [] as unknown[][]);
vi.mock("troupe/react", async (importOriginal) => {
  const real = await importOriginal<typeof import("troupe/react")>();
  return {
    ...real,
    createRivetKit: (...args: Parameters<typeof real.createRivetKit>) => {
      kits.push(args);
      return real.createRivetKit(...args);
    },
  };
});

const { SEND_WAIT_SECONDS } = await import("./pending.js");
await import("./chat.js");

describe("the chat's connections", () => {
  it("wait SEND_WAIT_SECONDS for the server before a send fails, the figure the page shows", () => {
    expect(kits).toHaveLength(1);
    expect(kits[0]![1]).toMatchObject({ connect: { queueTimeout: SEND_WAIT_SECONDS * 1000 } });
  });
});
