/**
 * Vite config of the game's frontend: `src/frontend` built into `dist/public/`, and the same
 * config for the dev server that `src/main.ts` starts in front of the API; the config every
 * template shares, from `troupe/vite/frontend`. The server's build is `vite.server.config.ts`.
 */
import react from "@vitejs/plugin-react";
import { frontendConfig } from "troupe/vite/frontend";

export default frontendConfig({
  root: import.meta.url,
  plugins: [react()],
  build: {
    // Phaser is one large module (about 1.3 MB minified) in its own chunk, loaded with the arena.
    chunkSizeWarningLimit: 1600,
  },
});
