/**
 * Vite config of the dashboard: the root is `src/frontend` (its `index.html` is the entry)
 * and `vite build` writes to `dist/public/`, which `pnpm start` serves. In development
 * `src/main.ts` imports this config and starts Vite itself (`troupe/vite`), with a
 * proxy for `/api` in front of the API server, so there is one process and one URL. The server's
 * build is `vite.server.config.ts`.
 */
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export const FRONTEND_ROOT = fileURLToPath(new URL("./src/frontend", import.meta.url));
export const DIST_DIR = fileURLToPath(new URL("./dist/public", import.meta.url));

export default defineConfig({
  root: FRONTEND_ROOT,
  plugins: [react()],
  build: {
    outDir: DIST_DIR,
    emptyOutDir: true,
    target: "es2022",
  },
  clearScreen: false,
});
