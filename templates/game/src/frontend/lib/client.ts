/** The page's one actor client, on the page's own origin (`/api/troupe`). */
import { createClient } from "troupe/client";
import type { GameRegistry } from "../../actors/index.js";

export const client = createClient<GameRegistry>(window.location.origin);
