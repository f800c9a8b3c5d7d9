// Transactions through a connection that is cut at random moments (BEGIN, mid-statement,
// COMMIT): every failed attempt must give its client back, so the pool never runs dry and
// writes work again once the database is reachable. With drizzle's own db.transaction, a cut
// during BEGIN leaked the client, and after ten cuts every write timed out.
import { createScratchDatabase } from "troupe/db";
import { startTcpProxy } from "troupe/test";
import { expect, it } from "vitest";
import { openDatabase, runMigrations } from "./index.js";
import { writeBatch } from "./outbox.js";

it("a connection cut at any point of a transaction leaks no pooled client", async () => {
  const scratch = await createScratchDatabase(process.env.DATABASE_URL!);
  const url = new URL(scratch.url);
  const proxy = await startTcpProxy(url.hostname, Number(url.port));
  url.port = String(proxy.port);
  const database = openDatabase(url.toString(), () => {});
  try {
    await runMigrations(database);
    const room = { id: "r1", orgId: "acme", name: "general", createdBy: "u1", createdAt: 0 };
    let failed = 0;
    // More rounds than the pool has clients (10).
    for (let round = 0; round < 25; round++) {
      const attempt = writeBatch(database.db, [{ n: round + 1, kind: "room", room }]).catch(() => {
        failed++;
      });
      const cut = new Promise<void>((resolve) =>
        setTimeout(() => void proxy.cut().then(resolve), Math.random() * 8),
      );
      await attempt;
      await cut; // so that no cut is left over for the next round
      await proxy.restore();
      expect(database.pool.totalCount - database.pool.idleCount).toBe(0);
    }
    expect(failed).toBeGreaterThan(0); // the cuts did hit transactions
    await writeBatch(database.db, [{ n: 100, kind: "room", room: { ...room, name: "renamed" } }]);
    const { rows } = await database.pool.query("SELECT name FROM rooms WHERE id = 'r1'");
    expect(rows).toEqual([{ name: "renamed" }]);
  } finally {
    await database.close();
    await proxy.close();
    await scratch.drop();
  }
});
