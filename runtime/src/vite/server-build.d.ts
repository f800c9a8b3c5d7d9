// Types of `server-build.js` (JavaScript so that Node loads it as a Vite config; see there).
import type { UserConfig } from "vite";

export interface ServerBuildOptions {
  /** `import.meta.url` of the config file: the template's folder. */
  root: string;
  /** The variable compiled in as "1" (e.g. `TROUPE_CHAT_BUILT`). */
  builtFlag: string;
}

/** The Vite config of a template's server build (see `server-build.js`). */
export function serverBuildConfig(options: ServerBuildOptions): UserConfig;
