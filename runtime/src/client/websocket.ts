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

/**
 * Resolves once the socket is open; rejects if it closes or errors first. Frames the server sent
 * with its handshake are held until the caller has run: see holdFramesForCaller.
 */
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
      holdFramesForCaller(socket);
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

/**
 * Code written for the browser API adds its "message" listener right after
 * `await handle.webSocket()`. Browsers make that safe: "open" and every message are separate
 * tasks, and the awaiting code runs in the microtasks after "open". The `ws` package does not:
 * frames that came in the same TCP read as the handshake (what an actor sends as soon as the
 * socket opens) are parsed and dispatched in the tick of "open", before any promise continuation,
 * so they reached no listener and were lost. Pausing the socket in "open" leaves those bytes
 * unread in the socket, in order, until a macrotask later, when the caller has had its turn.
 */
function holdFramesForCaller(socket: WebSocketLike): void {
  const pausable = socket as Partial<{ pause(): void; resume(): void }>;
  if (typeof pausable.pause !== "function" || typeof pausable.resume !== "function") return;
  pausable.pause();
  globalThis.setTimeout(() => pausable.resume!(), 0);
}
