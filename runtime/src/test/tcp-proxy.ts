/**
 * A TCP proxy a test can cut and restore: a real network fault between two real processes (a
 * client and the server, an app and its database) without touching either side. `cut()` drops
 * every open connection and refuses new ones; `restore()` listens again on the same port;
 * `freeze()` keeps every connection open but drops the bytes sent either way, as a peer that
 * vanished without closing (a laptop lid shut, a cable pulled) looks to the other side; a side
 * that closes its end is still passed on to the other.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface TcpProxy {
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  /** Drops the bytes of every open connection from now on, without closing any (a dead peer). */
  freeze(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  const make = (): Server =>
    createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      const pair: [Socket, Socket] = [client, upstream];
      pairs.add(pair);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        pairs.delete(pair);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  let server: Server | undefined = make();
  const listen = (s: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        const address = s.address();
        resolve(typeof address === "object" && address ? address.port : port);
      });
    });
  const port = await listen(server, 0);
  const stop = async () => {
    const s = server;
    server = undefined;
    // Stop accepting first, so no connection slips in between the cut and the close.
    const closed = s ? new Promise<void>((r) => s.close(() => r())) : Promise.resolve();
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
    await closed;
  };
  return {
    port,
    cut: stop,
    freeze() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        // Keep reading (and discarding), so a close from either side is still noticed.
        client.on("data", () => {}).resume();
        upstream.on("data", () => {}).resume();
      }
    },
    async restore() {
      if (server) return;
      server = make();
      await listen(server, port);
    },
    close: stop,
  };
}

/**
 * A proxy in front of the server a connection URL points to (`postgres://…`, any URL with a
 * host and port), and that URL through the proxy: what a test cuts to take the database away
 * from an app.
 *
 * @example
 * const { url, proxy } = await proxyUrl(scratch.url);
 * const app = await startApp({ databaseUrl: url });
 * await proxy.cut();
 */
export async function proxyUrl(target: string): Promise<{ url: string; proxy: TcpProxy }> {
  const url = new URL(target);
  const proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
  url.hostname = "127.0.0.1";
  url.port = String(proxy.port);
  return { url: url.toString(), proxy };
}
