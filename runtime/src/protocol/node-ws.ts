/**
 * WebSocket upgrades on a Node HTTP server (with the `ws` package): connections at
 * `{base}/actors/connect` and raw sockets at `{base}/gateway/{actorId}/websocket/{path}`.
 * `registry.serve()` attaches this itself; a custom server calls `registry.attachWebSockets()`.
 */
import { type IncomingMessage, type Server, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { TroupeError } from "../errors.js";
import { CLOSE } from "../instance/connections.js";
import type { Engine } from "../registry/engine.js";
import { type CorsOptions, upgradeOriginRefusal } from "./cors.js";
import { type PeerSocket, serveConnection } from "./websocket.js";

export interface WebSocketOptions {
  basePath: string;
  maxIncomingMessageSize: number;
  /** With it, browser pages from other origins need an allowed `Origin` (see cors.ts). */
  cors?: CorsOptions;
  /** Most sockets open at once per client address (`too_many_connections`); no cap if unset. */
  maxConnectionsPerAddress?: number;
  /** Take the client address from X-Forwarded-For (see the registry option). */
  trustProxy?: boolean | number;
}

export interface AttachedWebSockets {
  /** Stops accepting new upgrades; open sockets stay (the engine closes them with 1001). */
  stopAccepting(): void;
  /** Stops accepting and cuts whatever sockets are still open. */
  close(): void;
}

export function attachWebSockets(
  server: Server,
  engine: Engine,
  opts: WebSocketOptions,
): AttachedWebSockets {
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxIncomingMessageSize });
  const connectPath = `${opts.basePath}/actors/connect`;
  const gatewayPrefix = `${opts.basePath}/gateway/`;
  const perAddress = opts.maxConnectionsPerAddress
    ? new AddressCounter(opts.maxConnectionsPerAddress, proxyHops(opts.trustProxy))
    : undefined;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`);
    const originRefusal = upgradeOriginRefusal(opts.cors, req.headers.origin, req.headers.host);
    const ours = url.pathname === connectPath || url.pathname.startsWith(gatewayPrefix);
    if (ours && perAddress && !perAddress.admit(req, socket)) {
      refuseUpgrade(
        socket,
        429,
        "too_many_connections",
        `Too many WebSockets are open from this address (maxConnectionsPerAddress: ${opts.maxConnectionsPerAddress}). Close one, or retry later.`,
      );
      return;
    }
    if (url.pathname === connectPath) {
      wss.handleUpgrade(req, socket, head, (ws) => {
        // Refused over the socket, not with an HTTP status: browsers hide the status of a failed
        // upgrade, and a 4001 with its code stops the client instead of making it retry forever.
        if (originRefusal) refuseConnection(ws, "origin_not_allowed", originRefusal);
        else serveConnection(engine, wrapWs(ws, socket), toRequest(req, url));
      });
      return;
    }
    const raw = url.pathname.startsWith(gatewayPrefix)
      ? /^([^/]+)\/websocket(\/.*)?$/.exec(url.pathname.slice(gatewayPrefix.length))
      : null;
    if (raw) {
      if (originRefusal) refuseUpgrade(socket, 403, "origin_not_allowed", originRefusal);
      else void upgradeRaw(decodeURIComponent(raw[1]!), raw[2] ?? "/", url, req, socket, head);
      return;
    }
    // Not ours. If nobody else handles upgrades on this server, answer instead of hanging.
    if (server.listenerCount("upgrade") === 1)
      refuseUpgrade(socket, 404, "not_found", "No WebSocket route here.");
  };

  const upgradeRaw = async (
    actorId: string,
    path: string,
    url: URL,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ) => {
    const skipReadyWait = url.searchParams.get("skipReadyWait") === "1";
    try {
      const inst = await engine.instanceForRaw(actorId, skipReadyWait);
      if (!inst.hasWebSocketHandler) {
        throw new TroupeError("not_found", `The actor "${inst.name}" has no onWebSocket handler.`);
      }
      url.searchParams.delete("skipReadyWait");
      const request = toRequest(req, new URL(`${path}${url.search}`, url.origin));
      wss.handleUpgrade(req, socket, head, (ws) => {
        inst
          .handleWebSocket(ws as unknown as globalThis.WebSocket, request, skipReadyWait)
          .catch((err) => {
            engine.errorBody(err, { actor: inst.name, during: "onWebSocket" });
            ws.close(1011, "internal_error");
          });
      });
    } catch (err) {
      const { status, body } = engine.errorBody(err, { actorId, during: "websocket upgrade" });
      refuseUpgrade(socket, status, body.code, body.message);
    }
  };

  server.on("upgrade", onUpgrade);
  const stopAccepting = () => {
    server.off("upgrade", onUpgrade);
  };
  return {
    stopAccepting,
    close: () => {
      stopAccepting();
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}

/** `trustProxy` as the number of proxies in front of the server (0: use the socket's address). */
function proxyHops(trustProxy: boolean | number | undefined): number {
  if (trustProxy === true) return 1;
  return typeof trustProxy === "number" && trustProxy > 0 ? Math.floor(trustProxy) : 0;
}

/**
 * Open sockets per client address. A socket is counted from its upgrade request until its TCP
 * connection closes, whatever ends it (refused handshake, close, terminate), so the count cannot
 * leak; sockets waiting for `init` count like the others.
 */
class AddressCounter {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly hops: number,
  ) {}

  /** Counts the socket and returns true, or returns false when its address is at the cap. */
  admit(req: IncomingMessage, socket: Duplex): boolean {
    const address = this.addressOf(req);
    const count = this.open.get(address) ?? 0;
    if (count >= this.max) return false;
    this.open.set(address, count + 1);
    socket.once("close", () => {
      const left = (this.open.get(address) ?? 1) - 1;
      if (left > 0) this.open.set(address, left);
      else this.open.delete(address);
    });
    return true;
  }

  /**
   * The client's address. Behind n trusted proxies it is the n-th X-Forwarded-For entry from the
   * end: each proxy appends the address it saw, so entries further left are the client's say.
   */
  private addressOf(req: IncomingMessage): string {
    const own = req.socket.remoteAddress ?? "unknown";
    if (this.hops === 0) return own;
    const header = req.headers["x-forwarded-for"];
    const list = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",");
    const entry = list[list.length - this.hops]?.trim();
    return entry || own;
  }
}

const TEXT_FRAME = { binary: false } as const;
/** Bytes a corked socket holds before they are written out within the tick. */
const CORK_FLUSH_BYTES = 64 * 1024;

/**
 * `socket` is the connection under `ws`. Frames sent in one tick go out in one socket write: the
 * socket is corked at the first send and uncorked once the tick's synchronous work and promise
 * callbacks have run. A durable storage batch releases all its actions' replies in one tick, and
 * a broadcast sends its frames in one, so each costs one syscall and one wake-up of the peer per
 * connection instead of one per frame. Nothing waits longer: the write happens in the same tick.
 * A tick that queues more than `CORK_FLUSH_BYTES` writes it out as it goes, as without the cork,
 * so a large burst reaches the kernel (and the slow-consumer check sees what is really stuck).
 */
function wrapWs(ws: WebSocket, socket: Duplex): PeerSocket {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  return {
    send: (text) => {
      if (ws.readyState !== ws.OPEN) return;
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      } else if (socket.writableLength >= CORK_FLUSH_BYTES) {
        socket.uncork();
        socket.cork();
      }
      ws.send(text, TEXT_FRAME);
    },
    close: (code, reason) => {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
    },
    terminate: () => ws.terminate(),
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    ping: () => {
      if (ws.readyState !== ws.OPEN) return false;
      ws.ping();
      return true;
    },
    onMessage: (cb) =>
      ws.on("message", (data, isBinary) => cb(isBinary ? "" : data.toString(), isBinary)),
    onClose: (cb) => {
      ws.on("close", cb);
      // Oversized frames and protocol violations surface here; ws then closes the socket
      // (1009 / 1002) and "close" runs the cleanup.
      ws.on("error", () => {});
    },
    onPong: (cb) => ws.on("pong", cb),
  };
}

function toRequest(req: IncomingMessage, url: URL): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return new Request(url, { headers });
}

/** Refuses a connection as a failed `init` does (PROTOCOL.md): an `error` frame, then 4001. */
function refuseConnection(ws: WebSocket, code: string, message: string): void {
  ws.on("error", () => {});
  ws.send(JSON.stringify({ t: "error", error: { code, message, metadata: null } }));
  ws.close(CLOSE.rejected, code);
}

function refuseUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
      "Content-Type: application/json\r\n" +
      `x-troupe-error: ${code}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
}
