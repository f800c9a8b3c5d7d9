// @vitest-environment happy-dom
// The room's header while its first load (`getRoom`) is on its way: the answer can arrive after
// events the room sent later (a reply waits for the room's durable writes, events do not), so a
// join or leave heard meanwhile must still count once the answer is shown. The room here is a
// stand-in for the connection (its events fired by hand, its `getRoom` answered when the test
// says), so the order is exact.
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

type Handler = (...args: any[]) => void;
const live = vi.hoisted(() => ({
  handlers: new Map<string, Handler>(),
  answers: [] as ((value: unknown) => void)[],
}));

vi.mock("../lib/chat.js", () => {
  const connection = {
    getRoom: () => new Promise((resolve) => live.answers.push(resolve)),
    markRead: async () => {},
    typing: async () => {},
  };
  return {
    useChatActor: () => ({
      connection,
      isConnected: true,
      reconnecting: false,
      failure: null,
      retry: () => {},
      useEvent: (name: string, handler: Handler) => live.handlers.set(name, handler),
    }),
  };
});

const { RoomView } = await import("./RoomView.js");

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const ada = { id: "u-ada", name: "Ada", org: "acme" };
const ROLE = "member" as const;
const member = (userId: string, name: string) => ({ userId, name, joinedAt: 1 });

function answer(members: { userId: string; name: string }[], online = members) {
  return {
    room: { id: "r1", orgId: "acme", name: "General", createdBy: ada.id, createdAt: 1 },
    messages: [],
    members,
    online: online.map(({ userId, name }) => ({ userId, name })),
    scheduled: [],
    me: ada,
  };
}

let container: HTMLDivElement;
let root: Root;

function render() {
  act(() =>
    root.render(
      <RoomView
        roomId="r1"
        focusMessageId={null}
        knownName="General"
        user={ada}
        role={ROLE}
        onMarkRead={() => {}}
      />,
    ),
  );
}

const fire = (name: string, payload: unknown) => act(() => live.handlers.get(name)!(payload));
async function answerLoad(value: unknown) {
  const resolve = live.answers.shift();
  if (!resolve) throw new Error("getRoom was not called");
  await act(async () => resolve(value));
}
const sub = () => container.querySelector('[data-testid="room-sub"]')?.textContent ?? "";

beforeEach(() => {
  live.handlers.clear();
  live.answers.length = 0;
  container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

describe("RoomView while getRoom is on its way", () => {
  it("counts a member who joined after the answer was taken", async () => {
    render();
    fire("memberJoined", member("u-bo", "Bo"));
    await answerLoad(answer([member(ada.id, "Ada"), member("u-grace", "Grace")]));
    expect(sub()).toMatch(/^3 members/);
  });

  it("does not count a member who left after the answer was taken", async () => {
    render();
    fire("memberLeft", { userId: "u-grace", name: "Grace" });
    await answerLoad(answer([member(ada.id, "Ada"), member("u-grace", "Grace")]));
    expect(sub()).toMatch(/^1 member /);
  });

  it("counts a join the answer already has once", async () => {
    render();
    fire("memberJoined", member("u-bo", "Bo"));
    await answerLoad(answer([member(ada.id, "Ada"), member("u-bo", "Bo")]));
    expect(sub()).toMatch(/^2 members/);
    // And later events change it as usual.
    fire("memberJoined", member("u-cy", "Cy"));
    expect(sub()).toMatch(/^3 members/);
    fire("memberLeft", { userId: "u-bo", name: "Bo" });
    expect(sub()).toMatch(/^2 members/);
  });

  it("applies presence heard meanwhile on top of the answer's list", async () => {
    render();
    fire("presence", { type: "join", userId: "u-bo", name: "Bo" });
    fire("presence", { type: "leave", userId: "u-grace", name: "Grace" });
    await answerLoad(answer([member(ada.id, "Ada"), member("u-grace", "Grace")]));
    expect(sub()).toMatch(/· 2 online$/);
  });
});
