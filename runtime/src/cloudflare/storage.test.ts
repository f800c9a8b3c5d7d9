// The storage conformance suite against the Durable Object driver, running for real on workerd:
// each test gets its own Durable Object (its own SQLite database), driven over HTTP through a
// small fixture Worker. "Reopen" builds a new driver over the same database.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { runDriverConformance } from "../storage/common.case.test.js";
import type { StorageDriver } from "../storage/driver.js";
import { type RunningWorkerd, startWorkerd } from "./local.js";

const ENTRY = join(import.meta.dirname, "../../test/fixtures/cloudflare/driver-worker.ts");

let worker: RunningWorkerd;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "troupe-do-driver-"));
  worker = await startWorkerd({ entry: ENTRY, dataDir });
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function encode(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") };
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  }
  return value;
}

function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    if ("$bytes" in value) {
      return new Uint8Array(Buffer.from((value as { $bytes: string }).$bytes, "base64"));
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

/** The driver in the Durable Object named `store`, called over HTTP. */
function remoteDriver(store: string): StorageDriver {
  const call = async (method: string, ...args: unknown[]): Promise<any> => {
    const res = await fetch(`${worker.url}/${store}/${method}`, {
      method: "POST",
      body: JSON.stringify(encode(args)),
    });
    const body = (await res.json()) as { result?: unknown; error?: string };
    if (body.error !== undefined) throw new Error(body.error);
    return decode(body.result);
  };
  return {
    kind: "durable-object",
    createActor: (record) => call("createActor", record),
    findActorByKey: async (name, key) => (await call("findActorByKey", name, key)) ?? undefined,
    findActorById: async (id) => (await call("findActorById", id)) ?? undefined,
    commit: (batch) => call("commit", batch),
    kvGet: (actorId, keys) => call("kvGet", actorId, keys),
    kvList: (actorId, prefix, options) => call("kvList", actorId, prefix, options ?? {}),
    listAlarms: () => call("listAlarms"),
    close: () => call("close"),
  };
}

runDriverConformance("durable-object (workerd)", async () => {
  const store = `store-${randomBytes(6).toString("hex")}`;
  return {
    driver: remoteDriver(store),
    reopen: async () => {
      await fetch(`${worker.url}/${store}/reopen`, { method: "POST", body: "[]" });
      return remoteDriver(store);
    },
    cleanup: async () => {},
  };
});
