/**
 * Vite config of the agent's frontend: `src/frontend` built into `dist/public/`, and the same
 * config for the dev server that `src/main.ts` starts in front of the API; the config every
 * template shares, from `troupe/vite/frontend`. The server's build is `vite.server.config.ts`.
 */
import react from "@vitejs/plugin-react";
import { frontendConfig } from "troupe/vite/frontend";

export default frontendConfig({
  root: import.meta.url,
  plugins: [react()],
});
