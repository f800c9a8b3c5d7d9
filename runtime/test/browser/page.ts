// Runs in Chromium: the typed client from troupe/client, with no endpoint (the page's origin).
import { ActorError, createClient } from "troupe/client";
import type { registry } from "../browser.test.js";

const out = document.getElementById("out")!;
const client = createClient<typeof registry>();
const counter = client.counter.getOrCreate(["browser"]);
try {
  const first = await counter.increment(2);
  const second = await counter.increment(3);
  let code = "none";
  try {
    await counter.refuse();
  } catch (err) {
    code = err instanceof ActorError ? err.code : `not an ActorError: ${err}`;
  }
  // A live connection from the browser (native WebSocket): events and status.
  const conn = counter.connect();
  const statuses: string[] = [];
  conn.onStatusChange((s) => statuses.push(s));
  const event = new Promise<number>((resolve) => conn.once("count", (n: number) => resolve(n)));
  const viaConn = await conn.increment(10);
  const broadcast = await event;
  await conn.dispose();
  // A raw WebSocket, used the spec's way: the listener is added after the await.
  const ws = await client.greeter.getOrCreate(["browser"]).webSocket("/");
  const raw: string[] = [];
  const threeMessages = new Promise<void>((resolve) => {
    ws.addEventListener("message", (event) => {
      raw.push(String(event.data));
      if (raw.length === 3) resolve();
    });
  });
  ws.send("ping");
  await threeMessages;
  ws.close();
  out.textContent = JSON.stringify({ first, second, code, viaConn, broadcast, statuses, raw });
} catch (err) {
  out.textContent = JSON.stringify({ error: String(err) });
}
