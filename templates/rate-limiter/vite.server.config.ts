/**
 * The server build (`vite build --config vite.server.config.ts`): `src/main.ts` and what it
 * imports as JavaScript in `dist/server/main.js`, with the runtime compiled in and the SQL
 * migrations copied beside it; the config every template shares, from `troupe/vite/server-build`.
 */
import { serverBuildConfig } from "troupe/vite/server-build";

export default serverBuildConfig({ root: import.meta.url, builtFlag: "TROUPE_RATE_LIMITER_BUILT" });
