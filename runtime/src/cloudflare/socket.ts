/**
 * A Durable Object's hibernatable WebSocket as the protocol's `PeerSocket`, so `serveConnection`
 * (protocol/websocket.ts) runs unchanged inside a Durable Object. With the Hibernation API the
 * socket's events arrive through the Durable Object's `webSocketMessage` / `webSocketClose`
 * methods, which call the returned `events`.
 *
 * What the platform does not offer: server-sent pings (the runtime answers clients' pings itself,
 * and a dead peer's socket closes), `bufferedAmount` (the slow-consumer limit cannot apply), and a
 * frame size limit below its own (32 MiB): frames over `maxIncomingMessageSize` are refused here
 * with 1009, as Node's `ws` server does.
 */
import { CLOSE } from "../instance/connections.js";
import type { PeerSocket } from "../protocol/websocket.js";
import type { WorkersWebSocket } from "./workers.js";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Whether a frame is over `max` bytes (a string counts as its UTF-8). */
function overLimit(data: string | ArrayBuffer, max: number): boolean {
  if (typeof data !== "string") return data.byteLength > max;
  // At least one byte a UTF-16 unit, at most three: encode only when it could go either way.
  if (data.length > max) return true;
  if (data.length * 3 <= max) return false;
  return encoder.encode(data).byteLength > max;
}

export interface SocketEvents {
  message(data: string | ArrayBuffer): void;
  close(): void;
}

export function hibernatablePeer(
  ws: WorkersWebSocket,
  /** Runs before a frame answering a call goes out (to store the connection's state first). */
  beforeReply: () => void,
  /** The registry's `maxIncomingMessageSize`, in bytes. */
  maxMessageSize: number,
): { peer: PeerSocket; events: SocketEvents } {
  let onMessage: ((data: string, isBinary: boolean) => void) | undefined;
  let onClose: (() => void) | undefined;
  let closed = false;
  const peer: PeerSocket = {
    // Bytes are a text frame's UTF-8 (a broadcast encodes once); Workers would send them binary.
    send: (text) => {
      if (closed || ws.readyState !== 1) return;
      if (typeof text === "string") {
        if (text.startsWith('{"t":"result"') || text.startsWith('{"t":"error"')) beforeReply();
        ws.send(text);
      } else ws.send(decoder.decode(text));
    },
    close: (code, reason) => {
      if (ws.readyState <= 1) ws.close(code, reason);
    },
    terminate: () => {
      if (ws.readyState <= 1) ws.close(1011, "terminated");
    },
    bufferedAmount: 0,
    ping: () => false,
    pings: false,
    onMessage: (cb) => {
      onMessage = cb;
    },
    onClose: (cb) => {
      onClose = cb;
    },
    onPong: () => {},
  };
  const events: SocketEvents = {
    message: (data) => {
      if (closed) return;
      if (overLimit(data, maxMessageSize)) {
        if (ws.readyState <= 1) ws.close(CLOSE.tooBig, "message_too_large");
        return;
      }
      if (typeof data === "string") onMessage?.(data, false);
      else onMessage?.("", true);
    },
    close: () => {
      if (closed) return;
      closed = true;
      onClose?.();
    },
  };
  return { peer, events };
}
