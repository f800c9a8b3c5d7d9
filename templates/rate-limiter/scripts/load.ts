/**
 * Sends traffic to the public API so that the limits show: `CALLERS` concurrent loops for
 * `SECONDS`, spread over the quotes and weather routes, printing each second how many requests
 * were allowed (200) and limited (429), and anything else.
 *
 *   KEY=rl_acme_… pnpm --filter @troupe/template-rate-limiter load
 *   KEY=rl_acme_… BASE=http://127.0.0.1:3000 CALLERS=8 SECONDS=10 pnpm --filter @troupe/template-rate-limiter load
 */
const key = process.env.KEY;
if (!key) {
  console.error("Set KEY to an API key (create one with POST /api/admin/tenants/:id/keys).");
  process.exit(1);
}
const base = process.env.BASE ?? "http://127.0.0.1:3000";
const callers = Number(process.env.CALLERS ?? 4);
const seconds = Number(process.env.SECONDS ?? 10);
const paths = ["/v1/quotes", "/v1/weather/paris", "/v1/quotes/2"];

let counts = new Map<number, number>();
const end = Date.now() + seconds * 1000;
const ticker = setInterval(() => {
  const line = [...counts.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${status}: ${n}`)
    .join("  ");
  console.log(line || "no answers");
  counts = new Map();
}, 1000);

await Promise.all(
  Array.from({ length: callers }, async (_, c) => {
    for (let i = c; Date.now() < end; i++) {
      try {
        const res = await fetch(`${base}${paths[i % paths.length]}`, {
          headers: { authorization: `Bearer ${key}` },
        });
        await res.arrayBuffer();
        counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
        // A limited caller waits as told, like a well-behaved client.
        if (res.status === 429) {
          const wait = Number(res.headers.get("retry-after") ?? 1) * 1000;
          await new Promise((r) => setTimeout(r, Math.min(wait, end - Date.now())));
        }
      } catch (err) {
        console.error(`request failed: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }),
);
clearInterval(ticker);
