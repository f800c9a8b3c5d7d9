/**
 * Two linked in-memory sockets: the client end looks like a browser WebSocket, the server end is
 * a PeerSocket. `c.client().connect()` between actors of one process uses this instead of the
 * network, with the same protocol. Frames cross on the next macrotask, like a real socket.
 */
import type { WebSocketLike } from "../client/transport.js";
import type { PeerSocket } from "./websocket.js";

type Listener = (event: any) => void;
const decoder = new TextDecoder();

export function socketPair(): { client: WebSocketLike; server: PeerSocket } {
  let readyState = 0;
  const listeners = new Map<string, Set<Listener>>();
  const emit = (type: string, event: unknown) => {
    for (const l of listeners.get(type) ?? []) l(event);
  };
  const serverMessage: ((data: string, isBinary: boolean) => void)[] = [];
  const serverClose: (() => void)[] = [];

  const closeBoth = (code: number, reason: string) => {
    if (readyState >= 2) return;
    readyState = 2;
    setImmediate(() => {
      readyState = 3;
      for (const cb of serverClose) cb();
      emit("close", { code, reason, wasClean: true });
    });
  };

  setImmediate(() => {
    if (readyState !== 0) return;
    readyState = 1;
    emit("open", {});
  });

  const client: WebSocketLike = {
    get readyState() {
      return readyState;
    },
    send: (data) => {
      if (readyState !== 1) throw new Error("WebSocket is not open");
      setImmediate(() => {
        if (readyState === 1) for (const cb of serverMessage) cb(data, false);
      });
    },
    close: (code = 1000, reason = "") => closeBoth(code, reason),
    addEventListener: (type, l) => {
      if (!listeners.has(type)) listeners.set(type, new Set());
      listeners.get(type)!.add(l);
    },
    removeEventListener: (type, l) => {
      listeners.get(type)?.delete(l);
    },
  };

  const server: PeerSocket = {
    send: (text) => {
      const data = typeof text === "string" ? text : decoder.decode(text);
      setImmediate(() => {
        if (readyState === 1) emit("message", { data });
      });
    },
    close: (code, reason) => closeBoth(code, reason),
    terminate: () => closeBoth(1006, ""),
    bufferedAmount: 0,
    ping: () => false,
    onMessage: (cb) => serverMessage.push(cb),
    onClose: (cb) => serverClose.push(cb),
    onPong: () => {},
  };
  return { client, server };
}
