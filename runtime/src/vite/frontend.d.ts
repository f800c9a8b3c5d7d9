// Types of `frontend.js` (JavaScript so that Node loads it as a Vite config; see there).
import type { BuildOptions, PluginOption, UserConfig } from "vite";

export interface FrontendConfigOptions {
  /** `import.meta.url` of the config file: the template's folder. */
  root: string;
  /** The frontend's plugins (React's, for every template). */
  plugins?: PluginOption[];
  /** Build options on top of the shared ones (e.g. a larger chunk size warning limit). */
  build?: BuildOptions;
}

/** The Vite config of a template's frontend (see `frontend.js`). */
export function frontendConfig(options: FrontendConfigOptions): UserConfig;
