/**
 * The WebSocket class to use: the platform's (browsers, Node 22+), else the `ws` package (Node 20
 * has no global WebSocket). `ws` is imported through a variable so browser bundles leave it out.
 */
import type { WebSocketLike } from "./transport.js";

type WebSocketCtor = new (url: string, protocols?: string | string[]) => WebSocketLike;
let cached: WebSocketCtor | undefined;

export async function webSocketClass(): Promise<WebSocketCtor> {
  if (cached) return cached;
  const native = (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  if (native) return (cached = native);
  const name = "ws";
  const mod = (await import(/* @vite-ignore */ name)) as {
    WebSocket?: WebSocketCtor;
    default?: WebSocketCtor;
  };
  const ctor = mod.WebSocket ?? mod.default;
  if (!ctor) throw new Error("No WebSocket implementation: install the `ws` package.");
  return (cached = ctor);
}

/** Resolves once the socket is open; rejects if it closes or errors first. */
export function whenOpen(socket: WebSocketLike): Promise<WebSocketLike> {
  if (socket.readyState === 1) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      socket.removeEventListener("open", onOpen);
      socket.removeEventListener("close", onClose);
      socket.removeEventListener("error", onError);
    };
    const onOpen = () => {
      cleanup();
      resolve(socket);
    };
    const onClose = (e: { code?: number; reason?: string }) => {
      cleanup();
      reject(new Error(`WebSocket closed before opening (${e?.code ?? "?"} ${e?.reason ?? ""})`));
    };
    const onError = () => {
      cleanup();
      reject(new Error("WebSocket failed to open"));
    };
    socket.addEventListener("open", onOpen);
    socket.addEventListener("close", onClose);
    socket.addEventListener("error", onError);
  });
}
