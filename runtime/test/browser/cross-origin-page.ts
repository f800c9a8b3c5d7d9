// Runs in Chromium on an origin of its own: calls three registries on other origins, one that
// allows this page (cors), one that allows another origin only, and one without cors.
import { ActorError, createClient } from "troupe/client";

const out = document.getElementById("out")!;
const search = new URLSearchParams(location.search);
const codeOf = (err: unknown) =>
  err instanceof ActorError ? err.code : `not an ActorError: ${err}`;

async function allowed(endpoint: string) {
  const client = createClient(endpoint);
  const counter = client.counter.getOrCreate(["cross"]);
  const increment = await counter.increment(2);
  const code = await counter.refuse().then(() => "none", codeOf);
  // The error header is readable from the page only because cors exposes it.
  const res = await fetch(`${endpoint}/api/troupe/actors/action/nope`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ actor: { name: "counter", key: ["cross"] }, args: [] }),
  });
  const errorHeader = res.headers.get("x-troupe-error");
  const conn = counter.connect();
  const event = new Promise<number>((resolve) => conn.once("count", (n: number) => resolve(n)));
  const viaConn = await conn.increment(3);
  const broadcast = await event;
  const ws = await client.greeter.getOrCreate(["cross"]).webSocket("/");
  const raw: string[] = [];
  const three = new Promise<void>((resolve) =>
    ws.addEventListener("message", (e) => {
      raw.push(String(e.data));
      if (raw.length === 3) resolve();
    }),
  );
  ws.send("ping");
  await three;
  ws.close();
  await client.dispose();
  return { increment, code, errorHeader, viaConn, broadcast, raw };
}

async function refused(endpoint: string, withSockets: boolean) {
  const client = createClient(endpoint);
  const counter = client.counter.getOrCreate(["cross"]);
  const increment = await counter.increment(1).then(() => "reached", codeOf);
  if (!withSockets) return { increment };
  const conn = counter.connect();
  const connect = await new Promise<string>((resolve) => conn.onError((e) => resolve(e.code)));
  const raw = await client.greeter
    .getOrCreate(["cross"])
    .webSocket("/")
    .then(() => "opened", codeOf);
  await client.dispose();
  return { increment, connect, raw };
}

try {
  out.textContent = JSON.stringify({
    allowed: await allowed(search.get("allowed")!),
    closed: await refused(search.get("closed")!, false),
    others: await refused(search.get("others")!, true),
  });
} catch (err) {
  out.textContent = JSON.stringify({ error: String(err) });
}
