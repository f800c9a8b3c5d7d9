// @vitest-environment happy-dom
// The composer's own logic in a DOM: typing() is throttled, Enter sends, and send-later checks
// its input before calling the room.
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Composer, MAX_LENGTH, TYPING_THROTTLE_MS } from "./Composer.js";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let container: HTMLDivElement;
let root: Root;
const props = {
  roomName: "general",
  disabled: false,
  onSend: vi.fn(async (_text: string) => true),
  onSendLater: vi.fn(async (_text: string, _at: number) => true),
  onTyping: vi.fn(),
  onInvalid: vi.fn(),
  onEditLast: vi.fn(() => true),
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date(2026, 10, 26, 14, 0, 0));
  for (const f of Object.values(props)) if (typeof f === "function") f.mockClear();
  container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
  act(() => root.render(<Composer {...props} />));
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
  vi.useRealTimers();
});

const byTestId = <T extends Element>(id: string) =>
  container.querySelector<T>(`[data-testid="${id}"]`);

function type(el: HTMLTextAreaElement | HTMLInputElement, value: string) {
  const proto = Object.getPrototypeOf(el) as object;
  const setter = Object.getOwnPropertyDescriptor(proto, "value")!.set!;
  act(() => {
    setter.call(el, value);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

function press(el: Element, key: string, opts: { shiftKey?: boolean } = {}): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...opts });
  act(() => {
    el.dispatchEvent(event);
  });
  return event;
}

function paste(el: HTMLTextAreaElement, text: string): ClipboardEvent {
  const data = new DataTransfer();
  data.setData("text/plain", text);
  const event = new ClipboardEvent("paste", {
    clipboardData: data,
    bubbles: true,
    cancelable: true,
  });
  act(() => {
    el.dispatchEvent(event);
  });
  return event;
}

describe("Composer", () => {
  it("sends typing() at most once per throttle window while the text changes", () => {
    const input = byTestId<HTMLTextAreaElement>("composer")!;
    type(input, "h");
    type(input, "he");
    type(input, "hel");
    expect(props.onTyping).toHaveBeenCalledTimes(1);
    vi.setSystemTime(Date.now() + TYPING_THROTTLE_MS + 1);
    type(input, "hell");
    expect(props.onTyping).toHaveBeenCalledTimes(2);
    type(input, "   ");
    vi.setSystemTime(Date.now() + TYPING_THROTTLE_MS + 1);
    type(input, " ");
    expect(props.onTyping).toHaveBeenCalledTimes(2); // blank text is not typing
  });

  it("sends the trimmed text on Enter and clears the box; Shift+Enter does not send", async () => {
    const input = byTestId<HTMLTextAreaElement>("composer")!;
    type(input, "  hello  ");
    press(input, "Enter", { shiftKey: true });
    expect(props.onSend).not.toHaveBeenCalled();
    await act(async () => press(input, "Enter"));
    expect(props.onSend).toHaveBeenCalledWith("hello");
    expect(input.value).toBe("");
  });

  it("gives the text back when sending fails", async () => {
    props.onSend.mockResolvedValueOnce(false);
    const input = byTestId<HTMLTextAreaElement>("composer")!;
    type(input, "try me");
    await act(async () => byTestId<HTMLButtonElement>("send")!.click());
    expect(input.value).toBe("try me");
  });

  it("send later: reveals the picker, refuses no text or a past time, then schedules", async () => {
    expect(byTestId("send-later-time")).toBeNull();
    act(() => byTestId<HTMLButtonElement>("send-later-toggle")!.click());
    const time = byTestId<HTMLInputElement>("send-later-time")!;
    expect(time.type).toBe("datetime-local");
    expect(time.value).toBe("2026-11-26T15:00"); // the next full hour at least 30 min away

    await act(async () => byTestId<HTMLButtonElement>("send-later-submit")!.click());
    expect(props.onInvalid).toHaveBeenLastCalledWith(
      "Write the message first, then pick when to send it.",
    );

    type(byTestId<HTMLTextAreaElement>("composer")!, "standup!");
    type(time, "2026-11-26T13:00");
    await act(async () => byTestId<HTMLButtonElement>("send-later-submit")!.click());
    expect(props.onInvalid).toHaveBeenLastCalledWith("Pick a time in the future.");
    expect(props.onSendLater).not.toHaveBeenCalled();

    type(time, "2026-11-26T16:30");
    await act(async () => byTestId<HTMLButtonElement>("send-later-submit")!.click());
    expect(props.onSendLater).toHaveBeenCalledWith(
      "standup!",
      new Date(2026, 10, 26, 16, 30).getTime(),
    );
    expect(byTestId<HTMLTextAreaElement>("composer")!.value).toBe("");
    expect(byTestId("send-later-time")).toBeNull();
  });

  it("ArrowUp in the empty composer edits my last message; with text it moves the caret", () => {
    const input = byTestId<HTMLTextAreaElement>("composer")!;
    const up = press(input, "ArrowUp");
    expect(props.onEditLast).toHaveBeenCalledTimes(1);
    expect(up.defaultPrevented).toBe(true);
    // Nothing of mine to edit: the key does what it always does.
    props.onEditLast.mockReturnValueOnce(false);
    expect(press(input, "ArrowUp").defaultPrevented).toBe(false);
    type(input, "draft");
    expect(press(input, "ArrowUp").defaultPrevented).toBe(false);
    expect(props.onEditLast).toHaveBeenCalledTimes(2);
  });

  it("a paste over the length limit is cut to fit, and a notice says how much was left out", async () => {
    const input = byTestId<HTMLTextAreaElement>("composer")!;
    type(input, "intro ");
    input.setSelectionRange(6, 6);
    const small = paste(input, "fits");
    expect(small.defaultPrevented).toBe(false); // the browser pastes it
    expect(byTestId("paste-cut-notice")).toBeNull();

    const big = "x".repeat(MAX_LENGTH + 250);
    const event = paste(input, big);
    expect(event.defaultPrevented).toBe(true);
    expect(input.value).toBe(`intro ${"x".repeat(MAX_LENGTH - 6)}`);
    const notice = byTestId("paste-cut-notice")!;
    expect(notice.textContent).toContain("4,000 characters");
    expect(notice.textContent).toContain("the last 256 characters were left out");

    await act(async () => byTestId<HTMLButtonElement>("send")!.click());
    expect(props.onSend).toHaveBeenCalledWith(`intro ${"x".repeat(MAX_LENGTH - 6)}`);
    expect(byTestId("paste-cut-notice")).toBeNull();
  });
});
