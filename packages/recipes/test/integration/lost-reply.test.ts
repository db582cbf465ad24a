import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { Lock } from '../../src/index.js';
import { keysFactory } from './helpers.js';

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);

/**
 * A proxy in front of one etcd member that lets the first POST through to etcd but drops its reply and cuts
 * the connection: the create happens, and the client never learns it.
 */
async function replyDroppingProxy(
  target: URL,
): Promise<{ url: string; dropped: () => number; close: () => void }> {
  let dropped = 0;
  let armed = true;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    sockets.add(upstream);
    let dropNextReply = false;
    client.on('data', (chunk: Buffer) => {
      if (armed && chunk.toString('latin1').startsWith('POST ')) {
        armed = false;
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
    dropped: () => dropped,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('a create whose reply is lost', () => {
  it('is found again by its owner id, never duplicated, and the lock is acquired', async () => {
    const proxy = await replyDroppingProxy(new URL(endpoints[0]!));
    try {
      const name = uniqueKeyPrefix('lost-reply');
      const lock = new Lock(keysAPI({ endpoints: [proxy.url] }), name, { ttl: 5 });
      const held = await lock.acquire({ signal: AbortSignal.timeout(10_000) });
      expect(proxy.dropped()).toBe(1);
      const listing = await keysAPI().get(name, { quorum: true });
      expect(listing.node?.nodes?.map((node) => node.key)).toEqual([held.key]);
      await held.release();
      await lock.close();
    } finally {
      proxy.close();
    }
  });
});
