/**
 * The small public API the limiter protects: quotes and a (made-up, deterministic) weather
 * report. What matters is the routes and their rules, not the data.
 */
import type { Hono } from "hono";
import { hash32 } from "./limiter/hash.js";
import type { RateLimitEnv } from "./middleware/index.js";

const QUOTES = [
  { id: 1, text: "Premature optimization is the root of all evil.", by: "Donald Knuth" },
  { id: 2, text: "Simplicity is prerequisite for reliability.", by: "Edsger W. Dijkstra" },
  { id: 3, text: "Make it work, make it right, make it fast.", by: "Kent Beck" },
  {
    id: 4,
    text: "The cheapest, fastest and most reliable components are those that aren't there.",
    by: "Gordon Bell",
  },
  {
    id: 5,
    text: "Debugging is twice as hard as writing the code in the first place.",
    by: "Brian Kernighan",
  },
];

const CONDITIONS = ["sunny", "cloudy", "rain", "snow", "fog", "wind"];

export function mountPublicApi(app: Hono<RateLimitEnv>): void {
  app.get("/v1/quotes", (c) => c.json(QUOTES[Math.floor(Math.random() * QUOTES.length)]));
  app.get("/v1/quotes/:id", (c) => {
    const quote = QUOTES.find((q) => String(q.id) === c.req.param("id"));
    if (!quote) return c.json({ code: "not_found", message: "No such quote." }, 404);
    return c.json(quote);
  });
  app.get("/v1/weather/:city", (c) => {
    const city = c.req.param("city").slice(0, 80);
    // Same city, same hour: same report.
    const h = hash32(JSON.stringify([city.toLowerCase(), Math.floor(Date.now() / 3_600_000)]));
    return c.json({
      city,
      condition: CONDITIONS[h % CONDITIONS.length],
      temperatureC: (h % 45) - 10,
    });
  });
}
