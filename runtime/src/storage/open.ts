/**
 * Picks and opens a storage driver from a registry option or the environment:
 *   TROUPE_STORAGE=memory | file | postgres
 *   TROUPE_DATA_DIR (file; default ./.troupe/data)
 *   TROUPE_FILE_ON_CORRUPTION=truncate (file: accept losing the writes after damage in the
 *     middle of the log instead of refusing to start; see `onCorruption` in `file/index.ts`)
 *   TROUPE_DATABASE_URL or DATABASE_URL (postgres), TROUPE_DB_SCHEMA (default "troupe")
 */
import type { Logger } from "../log.js";
import type { StorageDriver } from "./driver.js";

export type StorageOption =
  | StorageDriver
  | "memory"
  | "file"
  | "postgres"
  | { driver: "memory" }
  | { driver: "file"; path?: string; onCorruption?: "refuse" | "truncate" }
  | { driver: "postgres"; connectionString?: string; schema?: string };

/** Opens the driver; `log` (the registry's logger) receives the driver's warnings. */
export async function openStorage(option?: StorageOption, log?: Logger): Promise<StorageDriver> {
  if (option && typeof option === "object" && "commit" in option) return option;
  const env = process.env;
  const spec =
    typeof option === "string"
      ? { driver: option }
      : (option ?? { driver: (env.TROUPE_STORAGE as "memory" | "file" | "postgres") || "file" });
  switch (spec.driver) {
    case "memory": {
      const { MemoryDriver } = await import("./memory/index.js");
      return new MemoryDriver();
    }
    case "file": {
      const { FileDriver } = await import("./file/index.js");
      const path = ("path" in spec && spec.path) || env.TROUPE_DATA_DIR || ".troupe/data";
      const onCorruption =
        ("onCorruption" in spec && spec.onCorruption) ||
        (env.TROUPE_FILE_ON_CORRUPTION as "refuse" | "truncate" | undefined) ||
        undefined;
      const warn = log?.child({ component: "file-driver", dir: path });
      return FileDriver.open(path, { onCorruption, onWarning: warn && ((m) => warn.warn(m)) });
    }
    case "postgres": {
      const { PostgresDriver } = await import("./postgres/index.js");
      const connectionString =
        ("connectionString" in spec && spec.connectionString) ||
        env.TROUPE_DATABASE_URL ||
        env.DATABASE_URL;
      if (!connectionString) {
        throw new Error(
          "The postgres storage driver needs a connection string: set DATABASE_URL (or TROUPE_DATABASE_URL).",
        );
      }
      const schema = ("schema" in spec && spec.schema) || env.TROUPE_DB_SCHEMA || undefined;
      return PostgresDriver.open({ connectionString, schema });
    }
    default:
      throw new Error(
        `Unknown storage driver "${String((spec as { driver: unknown }).driver)}". Use memory, file or postgres.`,
      );
  }
}
