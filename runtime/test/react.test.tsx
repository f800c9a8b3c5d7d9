// @vitest-environment happy-dom
// troupe/react: useActor and useEvent against a real server, rendered with React Testing Library,
// on Node and on workerd (a Worker's URL is all the kit needs).

import { request } from "node:http";
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { StrictMode, useState } from "react";
import { createRivetKit } from "troupe/react";
import { freePort } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";
import { reactRegistry } from "./fixtures/suites/react.js";
import { type Served, serve, TARGETS } from "./spec-targets.js";

const registry = reactRegistry();
let t: Served<typeof registry> | undefined;
/** How long a Durable Object may take to answer on a busy machine. */
const SLOW = { timeout: 60_000 };

afterEach(async () => {
  cleanup();
  await t?.close();
  t = undefined;
});

function kit() {
  return createRivetKit<typeof registry>(t!.endpoint);
}

/**
 * How many connections the actor for `key` holds, asked over HTTP through node:http (the global
 * fetch is happy-dom's here, a browser's, which a cross-origin answer without CORS would refuse).
 */
function liveConns(key: string): Promise<number> {
  const body = JSON.stringify({
    actor: { name: "counter", key: [key], mode: "getOrCreate" },
    args: [],
  });
  return new Promise((resolve, reject) => {
    const req = request(
      `${t!.endpoint}/actors/action/conns`,
      { method: "POST", headers: { "content-type": "application/json" } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => {
          const json = JSON.parse(text);
          if (json.error) reject(new Error(`conns: ${json.error.code}`));
          else resolve(json.output as number);
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

// On workerd the actors outlive a test (one process per file): each test uses keys of its own.
describe.each(TARGETS)("troupe/react on %s", (target) => {
  test("useActor connects, actions go through the connection, useEvent receives events", {
    timeout: 120_000,
  }, async () => {
    t = await serve(target, registry, { clock: "system" });
    const { useActor } = kit();
    function Counter() {
      const c = useActor({ name: "counter", key: ["a"] });
      const [count, setCount] = useState(0);
      const [reply, setReply] = useState<number | null>(null);
      c.useEvent("newCount", (n: number) => setCount(n));
      return (
        <div>
          <span data-testid="status">{c.connStatus}</span>
          <span data-testid="count">{count}</span>
          <span data-testid="reply">{reply ?? "-"}</span>
          <button type="button" onClick={() => c.connection?.increment(2).then(setReply)}>
            add
          </button>
        </div>
      );
    }
    render(<Counter />);
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("connected"), SLOW);
    fireEvent.click(screen.getByText("add"));
    await waitFor(() => expect(screen.getByTestId("count").textContent).toBe("2"), SLOW);
    // The reply too (the event may come first): the call is over before the test ends, whose
    // cleanup would otherwise dispose the connection under it.
    await waitFor(() => expect(screen.getByTestId("reply").textContent).toBe("2"), SLOW);
  });

  test("components asking for the same actor share one connection; unmount closes it", async () => {
    t = await serve(target, registry, { clock: "system" });
    const { useActor } = kit();
    function Status({ id }: { id: string }) {
      const c = useActor({ name: "counter", key: ["shared"] });
      return <span data-testid={id}>{c.connStatus}</span>;
    }
    const view = render(
      <StrictMode>
        <Status id="one" />
        <Status id="two" />
      </StrictMode>,
    );
    await waitFor(() => expect(screen.getByTestId("two").textContent).toBe("connected"), SLOW);
    expect(await liveConns("shared")).toBe(1);
    view.unmount();
    await waitFor(async () => expect(await liveConns("shared")).toBe(0), SLOW);
  });

  test("a key change closes the old connection and opens a new one", async () => {
    t = await serve(target, registry, { clock: "system" });
    const { useActor } = kit();
    function Room({ room }: { room: string }) {
      const c = useActor({ name: "counter", key: [room] });
      return <span data-testid="s">{`${room}:${c.connStatus}`}</span>;
    }
    const view = render(<Room room="r1" />);
    await waitFor(() => expect(screen.getByTestId("s").textContent).toBe("r1:connected"), SLOW);
    expect(await liveConns("r1")).toBe(1);
    view.rerender(<Room room="r2" />);
    await waitFor(() => expect(screen.getByTestId("s").textContent).toBe("r2:connected"), SLOW);
    await waitFor(async () => expect(await liveConns("r1")).toBe(0), SLOW);
    expect(await liveConns("r2")).toBe(1);
  });

  test("enabled: false stays idle; a refused connect shows its error code", async () => {
    t = await serve(target, registry, { clock: "system" });
    const { useActor } = kit();
    function Gate({ token, enabled }: { token: string; enabled: boolean }) {
      const c = useActor({ name: "counter", key: ["gate"], params: { token }, enabled });
      return <span data-testid="g">{`${c.connStatus}:${c.error?.code ?? "-"}`}</span>;
    }
    const view = render(<Gate token="bad" enabled={false} />);
    expect(screen.getByTestId("g").textContent).toBe("idle:-");
    await act(() => new Promise((r) => setTimeout(r, 50)));
    expect(await liveConns("gate")).toBe(0);
    view.rerender(<Gate token="bad" enabled={true} />);
    await waitFor(
      () => expect(screen.getByTestId("g").textContent).toBe("disconnected:invalid_token"),
      SLOW,
    );
    view.rerender(<Gate token="good" enabled={true} />);
    await waitFor(() => expect(screen.getByTestId("g").textContent).toBe("connected:-"), SLOW);
  });

  test("remounting after a refusal tries again, with the current getParams", async () => {
    t = await serve(target, registry, { clock: "system" });
    const { useActor } = kit();
    let token = "bad";
    function Gate() {
      const c = useActor({ name: "counter", key: ["retry"], getParams: () => ({ token }) });
      return <span data-testid="r">{`${c.connStatus}:${c.error?.code ?? "-"}`}</span>;
    }
    const first = render(<Gate />);
    await waitFor(
      () => expect(screen.getByTestId("r").textContent).toBe("disconnected:invalid_token"),
      SLOW,
    );
    first.unmount();
    token = "good";
    // Mounted again at once: the shared entry is still there, but its connection is over.
    render(<Gate />);
    await waitFor(() => expect(screen.getByTestId("r").textContent).toBe("connected:-"), SLOW);
    expect(await liveConns("retry")).toBe(1);
  });
});

describe("troupe/react without a server", () => {
  test("the kit's connect options reach every connection it opens (queueTimeout)", async () => {
    // Nothing listens here: an action waits for a connection until the kit's queueTimeout, whose
    // figure the error names (the client's own default is 15000 ms).
    const { useActor } = createRivetKit<typeof registry>(`http://127.0.0.1:${await freePort()}`, {
      connect: { queueTimeout: 300, reconnectMaxDelay: 100 },
    });
    let connection: { increment(amount: number): Promise<number> } | null = null;
    function Counter() {
      const c = useActor({ name: "counter", key: ["offline"] });
      connection = c.connection;
      return <span data-testid="o">{c.connStatus}</span>;
    }
    render(<Counter />);
    await waitFor(() => expect(screen.getByTestId("o").textContent).toBe("connecting"));
    const err = await connection!.increment(1).then(
      () => null,
      (e: { code: string; message: string }) => e,
    );
    expect(err?.code).toBe("connection_unavailable");
    expect(err?.message).toContain("within 300 ms (queueTimeout)");
  });
});
