/**
 * Waiting for a match: a connection to `matchmaker ["ffa"]` with the guest token, `queue()` on
 * every (re)connect (queue entries belong to connections: after a dropped network the server has
 * already removed the old one), and the `matched` event with the match id and ticket.
 */
import type { Client } from "troupe/client";
import type { GameRegistry, MatchedEvent } from "../../actors/index.js";

export const MODE = "ffa";

type LobbyConn = ReturnType<ReturnType<Client<GameRegistry>["matchmaker"]["get"]>["connect"]>;

export interface QueueHandlers {
  matched(m: MatchedEvent): void;
  /** The queue ended without a match (refused, replaced by another tab, …). */
  failed(err: unknown): void;
}

export class QueueSession {
  private conn: LobbyConn | undefined;
  private done = false;

  constructor(
    private readonly client: Client<GameRegistry>,
    private readonly token: string,
    private readonly handlers: QueueHandlers,
  ) {}

  start(): void {
    const conn = this.client.matchmaker
      .getOrCreate([MODE], { params: { token: this.token } })
      .connect();
    this.conn = conn;
    conn.onOpen(() => {
      if (this.done) return;
      conn.queue().catch((err: unknown) => this.fail(err));
    });
    conn.once("matched", (m) => {
      if (this.done) return;
      this.done = true;
      this.handlers.matched(m);
      void conn.dispose();
    });
    conn.on("queueLeft", ({ reason }) =>
      this.fail({
        code: "queue_left",
        message:
          reason === "replaced"
            ? "You queued from another tab: this one left the queue."
            : "You left the queue from another tab.",
      }),
    );
    conn.onError((err) => {
      // Transient errors are retried by the client (and `queue()` runs again on reconnect).
      if (conn.status !== "disconnected") return;
      this.fail(err);
    });
  }

  private fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    void this.conn?.dispose();
    this.handlers.failed(err);
  }

  /** Leaves the queue and closes the connection. */
  async cancel(): Promise<void> {
    if (this.done) return;
    this.done = true;
    const conn = this.conn;
    if (!conn) return;
    await conn.leave().catch(() => false);
    await conn.dispose();
  }
}
