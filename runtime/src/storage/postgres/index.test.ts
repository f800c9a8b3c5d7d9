import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDriverConformance } from "../common.case.test.js";
import { emptyBatch } from "../driver.js";
import { PostgresDriver, prefixSuccessor } from "./index.js";

function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) {
    throw new Error(
      "DATABASE_URL is not set. Run the tests through Vitest (test/global-setup.ts starts an embedded Postgres) or point DATABASE_URL at a server.",
    );
  }
  return url;
}

const schemaName = () => `troupe_test_${randomBytes(6).toString("hex")}`;

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

runDriverConformance("postgres", async () => {
  const schema = schemaName();
  const open = () => PostgresDriver.open({ connectionString: databaseUrl(), schema });
  return { driver: await open(), reopen: open, cleanup: () => dropSchema(schema) };
});

describe("PostgresDriver", () => {
  let admin: pg.Pool;
  beforeAll(() => {
    admin = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
  });
  afterAll(async () => {
    await admin.end();
  });

  const record = (key: string) => ({
    id: `id-${key}-${randomBytes(3).toString("hex")}`,
    name: "pg",
    key: [key],
    createdAt: 1,
    data: "{}",
  });

  it("quotes the schema name, creates it idempotently and concurrently", async () => {
    const schema = `we"ird schema;${randomBytes(3).toString("hex")}`;
    try {
      const drivers = await Promise.all(
        Array.from({ length: 4 }, () =>
          PostgresDriver.open({ connectionString: databaseUrl(), schema }),
        ),
      );
      const r = record("q");
      expect(await drivers[0].createActor(r)).toBe(true);
      expect(await drivers[3].findActorById(r.id)).toEqual(r);
      for (const d of drivers) await d.close();
      const tables = await admin.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
        [schema],
      );
      expect(tables.rows.map((t) => t.table_name)).toEqual(["actors", "kv"]);
    } finally {
      await dropSchema(schema);
    }
  });

  it("rejects schema names Postgres would truncate", async () => {
    await expect(
      PostgresDriver.open({ connectionString: databaseUrl(), schema: "s".repeat(64) }),
    ).rejects.toThrow(/Invalid Postgres schema name/);
  });

  it("fails with a clear message when the server cannot be reached", async () => {
    const err: Error = await PostgresDriver.open({
      connectionString: "postgres://postgres:secret@127.0.0.1:1/nothing",
    }).then(
      () => new Error("unexpectedly opened"),
      (e) => e,
    );
    expect(err.message).toMatch(/Could not open Postgres storage/);
    expect(err.message).not.toContain("secret");
  });

  it("applies a batch all or nothing", async () => {
    const schema = schemaName();
    const d = await PostgresDriver.open({ connectionString: databaseUrl(), schema });
    try {
      const a = record("a");
      await d.createActor(a);
      const put = { actorId: a.id, key: Buffer.from("k"), value: Buffer.from("v") };
      // Postgres text cannot hold NUL, so this state write fails inside the statement.
      await expect(
        d.commit({
          ...emptyBatch(),
          states: [{ actorId: a.id, data: "bad\u0000" }],
          kvPuts: [put],
        }),
      ).rejects.toThrow();
      expect(await d.kvGet(a.id, [put.key])).toEqual([null]);
      // The driver is still usable and later commits apply.
      await d.commit({ ...emptyBatch(), kvPuts: [put] });
      expect((await d.kvGet(a.id, [put.key])).map((v) => Buffer.from(v!).toString())).toEqual([
        "v",
      ]);
    } finally {
      await d.close();
      await dropSchema(schema);
    }
  });

  it("stores keys jsonb cannot hold with a NULL jsonb copy, and readable keys as jsonb", async () => {
    const schema = schemaName();
    const d = await PostgresDriver.open({ connectionString: databaseUrl(), schema });
    try {
      const odd = { ...record("x"), key: ["nul\u0000", "lone\ud800"] };
      const plain = { ...record("y"), key: ["room", "ü"] };
      expect(await d.createActor(odd)).toBe(true);
      expect(await d.createActor(plain)).toBe(true);
      expect(await d.findActorByKey("pg", odd.key)).toEqual(odd);
      const rows = await admin.query(
        `SELECT id, key FROM ${pg.escapeIdentifier(schema)}.actors ORDER BY created_at, id`,
      );
      const byId = new Map(rows.rows.map((r) => [r.id, r.key]));
      expect(byId.get(odd.id)).toBeNull();
      expect(byId.get(plain.id)).toEqual(["room", "ü"]);
    } finally {
      await d.close();
      await dropSchema(schema);
    }
  });

  it("does not end a pool it was given", async () => {
    const schema = schemaName();
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    try {
      const d = await PostgresDriver.open({ connectionString: "unused", schema, pool });
      await d.close();
      expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
      await dropSchema(schema);
    }
  });

  it("computes prefix successors for byte ranges", () => {
    const hex = (u: Uint8Array | null) => (u ? Buffer.from(u).toString("hex") : null);
    expect(hex(prefixSuccessor(new Uint8Array()))).toBeNull();
    expect(hex(prefixSuccessor(Uint8Array.of(0x00)))).toBe("01");
    expect(hex(prefixSuccessor(Uint8Array.of(0x61, 0x62)))).toBe("6163");
    expect(hex(prefixSuccessor(Uint8Array.of(0x01, 0xff)))).toBe("02");
    expect(hex(prefixSuccessor(Uint8Array.of(0x01, 0xfe, 0xff, 0xff)))).toBe("01ff");
    expect(hex(prefixSuccessor(Uint8Array.of(0xff, 0xff)))).toBeNull();
  });
});
