// @vitest-environment happy-dom
// troupe/react: useActor and useEvent against a real server, rendered with React Testing Library.
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { StrictMode, useState } from "react";
import { actor, setup, UserError } from "troupe";
import type { ActorConn } from "troupe/client";
import { createRivetKit } from "troupe/react";
import { freePort, setupTest, type TestRuntime } from "troupe/test";
import { afterEach, describe, expect, test } from "vitest";

const counter = actor({
  state: { count: 0 },
  createConnState: (_c, params: { token?: string } | undefined): { ok: boolean } => {
    if (params?.token === "bad") throw new UserError("Invalid token", { code: "invalid_token" });
    return { ok: true };
  },
  actions: {
    increment: (c, amount: number) => {
      c.state.count += amount;
      c.broadcast("newCount", c.state.count);
      return c.state.count;
    },
  },
});
const registry = setup({ use: { counter } });
let t: TestRuntime<typeof registry> | undefined;

afterEach(async () => {
  cleanup();
  await t?.close();
  t = undefined;
});

function kit() {
  return createRivetKit<typeof registry>(t!.endpoint);
}

/** How many connections the live actor for `key` holds (0 if it is not running). */
const liveConns = async (key: string) =>
  t!.engine.placement.live().find((i) => i.key[0] === key)?.conns.size ?? 0;

describe("troupe/react", () => {
  test("useActor connects, actions go through the connection, useEvent receives events", async () => {
    t = await setupTest(registry, { clock: "system" });
    const { useActor } = kit();
    function Counter() {
      const c = useActor({ name: "counter", key: ["a"] });
      const [count, setCount] = useState(0);
      c.useEvent("newCount", (n: number) => setCount(n));
      return (
        <div>
          <span data-testid="status">{c.connStatus}</span>
          <span data-testid="count">{count}</span>
          <button type="button" onClick={() => c.connection?.increment(2)}>
            add
          </button>
        </div>
      );
    }
    render(<Counter />);
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("connected"));
    fireEvent.click(screen.getByText("add"));
    await waitFor(() => expect(screen.getByTestId("count").textContent).toBe("2"));
  });

  test("components asking for the same actor share one connection; unmount closes it", async () => {
    t = await setupTest(registry, { clock: "system" });
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
    await waitFor(() => expect(screen.getByTestId("two").textContent).toBe("connected"));
    expect(await liveConns("shared")).toBe(1);
    view.unmount();
    await waitFor(async () => expect(await liveConns("shared")).toBe(0));
  });

  test("a key change closes the old connection and opens a new one", async () => {
    t = await setupTest(registry, { clock: "system" });
    const { useActor } = kit();
    function Room({ room }: { room: string }) {
      const c = useActor({ name: "counter", key: [room] });
      return <span data-testid="s">{`${room}:${c.connStatus}`}</span>;
    }
    const view = render(<Room room="r1" />);
    await waitFor(() => expect(screen.getByTestId("s").textContent).toBe("r1:connected"));
    expect(await liveConns("r1")).toBe(1);
    view.rerender(<Room room="r2" />);
    await waitFor(() => expect(screen.getByTestId("s").textContent).toBe("r2:connected"));
    await waitFor(async () => expect(await liveConns("r1")).toBe(0));
    expect(await liveConns("r2")).toBe(1);
  });

  test("enabled: false stays idle; a refused connect shows its error code", async () => {
    t = await setupTest(registry, { clock: "system" });
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
    await waitFor(() =>
      expect(screen.getByTestId("g").textContent).toBe("disconnected:invalid_token"),
    );
    view.rerender(<Gate token="good" enabled={true} />);
    await waitFor(() => expect(screen.getByTestId("g").textContent).toBe("connected:-"));
  });

  test("remounting after a refusal tries again, with the current getParams", async () => {
    t = await setupTest(registry, { clock: "system" });
    const { useActor } = kit();
    let token = "bad";
    function Gate() {
      const c = useActor({ name: "counter", key: ["retry"], getParams: () => ({ token }) });
      return <span data-testid="r">{`${c.connStatus}:${c.error?.code ?? "-"}`}</span>;
    }
    const first = render(<Gate />);
    await waitFor(() =>
      expect(screen.getByTestId("r").textContent).toBe("disconnected:invalid_token"),
    );
    first.unmount();
    token = "good";
    // Mounted again at once: the shared entry is still there, but its connection is over.
    render(<Gate />);
    await waitFor(() => expect(screen.getByTestId("r").textContent).toBe("connected:-"));
    expect(await liveConns("retry")).toBe(1);
  });

  test("the kit's connect options reach every connection it opens (queueTimeout)", async () => {
    // Nothing listens here: an action waits for a connection until the kit's queueTimeout, whose
    // figure the error names (the client's own default is 15000 ms).
    const { useActor } = createRivetKit<typeof registry>(`http://127.0.0.1:${await freePort()}`, {
      connect: { queueTimeout: 300, reconnectMaxDelay: 100 },
    });
    let connection: ActorConn<typeof counter> | null = null;
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
