import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpProxy } from '../../src/index.js';

/** An echo server, and a proxy in front of it. */
async function setup(): Promise<{ proxy: TcpProxy; server: Server }> {
  const server = createServer((socket) => socket.pipe(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const targetPort = (server.address() as { port: number }).port;
  const proxy = await TcpProxy.start({ listenPort: 0, targetPort });
  cleanups.push(async () => {
    await proxy.close();
    server.close();
  });
  return { proxy, server };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function connect(port: number): Promise<Socket> {
  const socket = createConnection({ port, host: '127.0.0.1' });
  return once(socket, 'connect').then(() => socket);
}

/** Sends an HTTP-looking request (with an optional X-Server-From) and resolves with what comes back, or 'silence'. */
async function exchange(socket: Socket, from?: string, waitMs = 200): Promise<string> {
  const request = `GET /raft/stream HTTP/1.1\r\nHost: x\r\n${from ? `X-Server-From: ${from}\r\n` : ''}\r\n`;
  socket.write(request);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('silence'), waitMs);
    socket.once('data', (data) => {
      clearTimeout(timer);
      resolve(data.toString());
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
}

describe('TcpProxy', () => {
  it('passes bytes both ways', async () => {
    const { proxy } = await setup();
    const socket = await connect(proxy.port);
    expect(await exchange(socket)).toContain('GET /raft/stream');
    socket.destroy();
  });

  it('blackholes existing and new connections until healed', async () => {
    const { proxy } = await setup();
    const before = await connect(proxy.port);
    expect(await exchange(before)).toContain('GET');
    proxy.blackhole();
    expect(proxy.faulty).toBe(true);
    expect(await exchange(before)).toBe('silence');
    const during = await connect(proxy.port);
    expect(await exchange(during)).toBe('silence');
    proxy.heal();
    expect(proxy.faulty).toBe(false);
    const after = await connect(proxy.port);
    expect(await exchange(after)).toContain('GET');
    for (const socket of [before, during, after]) socket.destroy();
  });

  it('blocks only the member named in X-Server-From', async () => {
    const { proxy } = await setup();
    const fromA = await connect(proxy.port);
    expect(await exchange(fromA, 'aaaa')).toContain('X-Server-From: aaaa');
    proxy.blockSender('aaaa');
    expect(await exchange(fromA, 'aaaa')).toBe('silence');
    const fromB = await connect(proxy.port);
    expect(await exchange(fromB, 'bbbb')).toContain('bbbb');
    const newA = await connect(proxy.port);
    expect(await exchange(newA, 'aaaa')).toBe('silence');
    proxy.unblockSender('aaaa');
    const againA = await connect(proxy.port);
    expect(await exchange(againA, 'aaaa')).toContain('aaaa');
    for (const socket of [fromA, fromB, newA, againA]) socket.destroy();
  });

  it('refuses requests matching a pattern', async () => {
    const { proxy } = await setup();
    proxy.refuseRequests(/^GET \/raft\/stream /);
    expect(await exchange(await connect(proxy.port))).toBe('closed');
    proxy.refuseRequests(undefined);
    const socket = await connect(proxy.port);
    expect(await exchange(socket)).toContain('GET');
    socket.destroy();
  });
});
