/**
 * `troupe/vite/frontend`: the Vite config of a template's frontend, one for every template. The
 * root is the template's `src/frontend` (its `index.html` is the entry) and `vite build` writes
 * to `dist/public/`, which `start` serves; in development the template's `src/main.ts` imports
 * its `vite.config.ts` (this config) and starts Vite itself (`troupe/vite`) in front of the API,
 * so there is one process and one URL. The server's build is `troupe/vite/server-build`.
 *
 * JavaScript (typed by `frontend.d.ts` beside it) for the reason given in `server-build.js`:
 * Vite's default config loader imports the packages a config names with Node itself.
 *
 * @example
 * // vite.config.ts
 * import react from "@vitejs/plugin-react";
 * import { frontendConfig } from "troupe/vite/frontend";
 * export default frontendConfig({ root: import.meta.url, plugins: [react()] });
 */
import { fileURLToPath } from "node:url";

/**
 * @param {import("./frontend.js").FrontendConfigOptions} options
 * @returns {import("vite").UserConfig}
 */
export function frontendConfig({ root, plugins = [], build = {} }) {
  return {
    root: fileURLToPath(new URL("./src/frontend", root)),
    plugins,
    build: {
      outDir: fileURLToPath(new URL("./dist/public", root)),
      emptyOutDir: true,
      target: "es2022",
      ...build,
    },
    clearScreen: false,
  };
}
