// @vitest-environment happy-dom
// The message list in a DOM: a live region, links that are only ever http(s) links, long
// messages behind "Show more", unsent messages with Retry and Discard, and "N new messages ↓"
// when messages arrive while the reader is scrolled up.
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Message } from "../../actors/index.js";
import type { PendingMessage } from "../lib/pending.js";
import { MessageList } from "./MessageList.js";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const me = { id: "u-ada", name: "Ada", org: "acme" };
const grace = { id: "u-grace", name: "Grace" };
let seq = 0;
function msg(text: string, author: { id: string; name: string } = grace): Message {
  seq++;
  return {
    id: `m-${seq}`,
    orgId: "acme",
    roomId: "r1",
    seq,
    authorId: author.id,
    authorName: author.name,
    text,
    createdAt: Date.UTC(2026, 10, 26, 14, 0, seq),
    editedAt: null,
    deletedAt: null,
    version: 1,
  };
}

let container: HTMLDivElement;
let root: Root;
const handlers = {
  onLoadOlder: vi.fn(),
  onEditingChange: vi.fn(),
  onEdit: vi.fn(async () => true),
  onDelete: vi.fn(async () => {}),
  onRetryPending: vi.fn(),
  onDiscardPending: vi.fn(),
};

function render(
  messages: Message[],
  pending: PendingMessage[] = [],
  editingId: string | null = null,
) {
  act(() =>
    root.render(
      <MessageList
        messages={messages}
        pending={pending}
        loaded={true}
        me={me}
        canLoadOlder={false}
        loadingOlder={false}
        focusMessageId={null}
        editingId={editingId}
        {...handlers}
      />,
    ),
  );
}

const all = (selector: string) => [...container.querySelectorAll<HTMLElement>(selector)];
const byTestId = (id: string) => container.querySelector<HTMLElement>(`[data-testid="${id}"]`);

beforeEach(() => {
  seq = 0;
  for (const f of Object.values(handlers)) f.mockClear();
  container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

describe("MessageList", () => {
  it("is a polite live log", () => {
    render([msg("hi")]);
    const list = byTestId("message-list")!;
    expect(list.getAttribute("role")).toBe("log");
    expect(list.getAttribute("aria-live")).toBe("polite");
  });

  it("turns http(s) addresses into links opening in a new tab, and never renders HTML", () => {
    render([
      msg("docs at https://example.com/guide?x=1. and javascript:alert(1)"),
      msg('<img src=x onerror="alert(1)"> <a href="https://evil.example">click</a> <b>bold</b>'),
    ]);
    const links = all('[data-testid="message-link"]');
    expect(links.map((a) => a.getAttribute("href"))).toEqual([
      "https://example.com/guide?x=1",
      "https://evil.example/",
    ]);
    for (const a of links) {
      expect(a.getAttribute("target")).toBe("_blank");
      expect(a.getAttribute("rel")).toBe("noopener noreferrer");
    }
    // The markup of the second message is shown as text: no img, no b, and only our own link.
    expect(container.querySelector("img, b")).toBeNull();
    const texts = all('[data-testid="message-text"]').map((t) => t.textContent);
    expect(texts[1]).toBe(
      '<img src=x onerror="alert(1)"> <a href="https://evil.example">click</a> <b>bold</b>',
    );
    expect(texts[0]).toContain("javascript:alert(1)");
  });

  it("shows long messages shortened, with Show more and Show less", () => {
    const long = `${"All the words of a long report. ".repeat(40)}The end.`;
    const longOne = msg(long);
    render([longOne]);
    const text = () => byTestId("message-text")!.textContent!;
    expect(text().length).toBeLessThan(700);
    expect(text().endsWith("…")).toBe(true);
    const more = byTestId("show-more")!;
    expect(more.getAttribute("aria-expanded")).toBe("false");
    act(() => more.click());
    expect(text()).toBe(long);
    expect(byTestId("show-more")!.textContent).toBe("Show less");
    act(() => byTestId("show-more")!.click());
    expect(text().endsWith("…")).toBe(true);
    render([longOne, msg("short")]);
    expect(all('[data-testid="show-more"]')).toHaveLength(1); // only the long one has it
  });

  it("shows unsent messages: Sending…, or Not sent with Retry and Discard", () => {
    const pending: PendingMessage[] = [
      { clientId: "c-1", text: "on its way", createdAt: 1, status: "sending" },
      {
        clientId: "c-2",
        text: "stuck",
        createdAt: 2,
        status: "failed",
        error: "Not sent: no connection for 15 s.",
      },
    ];
    render([msg("hi")], pending);
    const items = all('[data-testid="message-pending"]');
    expect(items.map((i) => i.dataset.status)).toEqual(["sending", "failed"]);
    expect(items[0]!.textContent).toContain("Sending…");
    expect(items[0]!.querySelector('[data-testid="pending-retry"]')).toBeNull();
    expect(items[1]!.textContent).toContain("stuck");
    expect(items[1]!.textContent).toContain("Not sent: no connection for 15 s.");
    act(() => items[1]!.querySelector<HTMLElement>('[data-testid="pending-retry"]')!.click());
    expect(handlers.onRetryPending).toHaveBeenCalledWith("c-2");
    act(() => items[1]!.querySelector<HTMLElement>('[data-testid="pending-discard"]')!.click());
    expect(handlers.onDiscardPending).toHaveBeenCalledWith("c-2");
  });

  it("edits the message the room says is being edited (ArrowUp in the composer)", () => {
    const mine = msg("my last words", me);
    render([msg("hi"), mine], [], mine.id);
    const input = container.querySelector<HTMLTextAreaElement>('[data-testid="edit-input"]')!;
    expect(input.value).toBe("my last words");
    act(() => {
      input.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    });
    expect(handlers.onEditingChange).toHaveBeenLastCalledWith(null);
  });

  it("offers 'N new messages ↓' when messages arrive while scrolled up, and jumps there", () => {
    const first = [msg("one"), msg("two")];
    render(first);
    const list = byTestId("message-list")!;
    // happy-dom has no layout: give the list a size and scroll it up as a reader would.
    let top = 0;
    Object.defineProperty(list, "scrollHeight", { configurable: true, get: () => 2000 });
    Object.defineProperty(list, "clientHeight", { configurable: true, get: () => 500 });
    Object.defineProperty(list, "scrollTop", {
      configurable: true,
      get: () => top,
      set: (v: number) => {
        top = Math.max(0, Math.min(v, 1500));
      },
    });
    list.scrollTo = ((opts: ScrollToOptions) => {
      top = Math.min(opts.top ?? 0, 1500);
    }) as typeof list.scrollTo;
    top = 300;
    act(() => {
      list.dispatchEvent(new Event("scroll"));
    });
    expect(byTestId("jump-latest")).toBeNull();

    const more = [...first, msg("three"), msg("four")];
    render(more);
    expect(byTestId("jump-latest")!.textContent).toBe("2 new messages ↓");
    expect(top).toBe(300); // the reader's place is kept
    // My own messages do not count.
    render([...more, msg("mine", me)]);
    expect(byTestId("jump-latest")!.textContent).toBe("2 new messages ↓");

    act(() => byTestId("jump-latest")!.click());
    expect(top).toBe(1500);
    expect(byTestId("jump-latest")).toBeNull();

    // At the bottom, new messages just scroll into view.
    render([...more, msg("mine", me), msg("five")]);
    expect(byTestId("jump-latest")).toBeNull();
  });
});
