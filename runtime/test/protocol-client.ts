// A minimal raw client of the connection protocol (PROTOCOL.md), for testing the server exactly.
import WebSocket from "ws";

export interface RawConn {
  ws: WebSocket;
  messages: any[];
  closed: Promise<{ code: number; reason: string }>;
  send(msg: unknown): void;
  next(pred: (m: any) => boolean, timeoutMs?: number): Promise<any>;
}

export function openRaw(endpoint: string, opts: WebSocket.ClientOptions = {}): Promise<RawConn> {
  const ws = new WebSocket(`${endpoint.replace(/^http/, "ws")}/actors/connect`, opts);
  const messages: any[] = [];
  const waiters: { pred: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  ws.on("message", (data, isBinary) => {
    const m = JSON.parse(isBinary ? "null" : data.toString());
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const conn: RawConn = {
    ws,
    messages,
    closed,
    send: (msg) => ws.send(typeof msg === "string" ? msg : JSON.stringify(msg)),
    next: (pred, timeoutMs = 5000) => {
      const found = messages.find(pred);
      if (found) {
        messages.splice(messages.indexOf(found), 1);
        return Promise.resolve(found);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error("timed out waiting for a message")),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (m) => {
            clearTimeout(timer);
            messages.splice(messages.indexOf(m), 1);
            resolve(m);
          },
        });
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(conn));
    ws.once("error", reject);
  });
}

/** Opens, sends init, and waits for welcome. */
export async function connectRaw(
  endpoint: string,
  actor: unknown,
  params?: unknown,
  opts?: WebSocket.ClientOptions,
): Promise<RawConn> {
  const c = await openRaw(endpoint, opts);
  c.send({ t: "init", actor, params });
  await c.next((m) => m.t === "welcome");
  return c;
}
