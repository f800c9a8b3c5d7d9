// Calls the running example server: `pnpm --filter troupe exec tsx examples/counter/client.ts`.
import { createClient } from "troupe/client";
import type { registry } from "./actors.js";

const client = createClient<typeof registry>(
  process.env.TROUPE_ENDPOINT ?? "http://localhost:6420",
);
const counter = client.counter.getOrCreate(["demo"]);
console.log("count is now", await counter.increment(1));
