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
  out.textContent = JSON.stringify({ first, second, code });
} catch (err) {
  out.textContent = JSON.stringify({ error: String(err) });
}
