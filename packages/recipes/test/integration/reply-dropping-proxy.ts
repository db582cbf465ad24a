import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';

/** A TCP proxy in front of one etcd member that can lose one reply; see {@link replyDroppingProxy}. */
export interface ReplyDroppingProxy {
  /** The proxy's URL, to use as the member's endpoint. */
  readonly url: string;
  /** Drops the reply to the next request whose bytes contain `match` (once). */
  arm(match: string): void;
  /** How many replies were dropped. */
  dropped(): number;
  close(): void;
}

/**
 * A proxy in front of one etcd member that, once armed, lets the next request whose bytes contain the match
 * through to etcd but drops its reply and cuts the connection: the write happens, and the client never learns
 * it.
 */
export async function replyDroppingProxy(target: URL): Promise<ReplyDroppingProxy> {
  let dropped = 0;
  let armed: string | undefined;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    sockets.add(upstream);
    let dropNextReply = false;
    client.on('data', (chunk: Buffer) => {
      if (armed !== undefined && chunk.toString('latin1').includes(armed)) {
        armed = undefined;
        dropNextReply = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dropNextReply) {
        dropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    for (const socket of [client, upstream]) {
      socket.on('error', () => {});
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    arm: (match) => {
      armed = match;
    },
    dropped: () => dropped,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
