import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom, TcpProxy } from '../../src/index.js';

/** An echo server, and a proxy in front of it. */
async function setup(random?: () => number): Promise<{ proxy: TcpProxy; server: Server }> {
  const server = createServer((socket) => {
    socket.on('error', () => {}); // the proxy resets connections in some tests
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const targetPort = (server.address() as { port: number }).port;
  const proxy = await TcpProxy.start({ listenPort: 0, targetPort, ...(random ? { random } : {}) });
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
  return once(socket, 'connect').then(() => {
    socket.on('error', () => {}); // resets are expected in some tests: 'close' tells them
    return socket;
  });
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

  it('delays traffic by the delay plus jitter, both ways, in order', async () => {
    const { proxy } = await setup();
    const socket = await connect(proxy.port);
    expect(await exchange(socket)).toContain('GET');
    proxy.delay(80, 20);
    expect(proxy.faulty).toBe(true);
    const t0 = performance.now();
    expect(await exchange(socket, undefined, 1000)).toContain('GET');
    const elapsed = performance.now() - t0;
    // one delay each way: 160 ms at least; 200 ms with the jitter at most, plus room for a loaded machine
    expect(elapsed).toBeGreaterThanOrEqual(155);
    expect(elapsed).toBeLessThan(200 + 500);
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString();
    });
    for (let i = 0; i < 20; i++) socket.write(`${i},`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(received).toBe(Array.from({ length: 20 }, (_, i) => `${i},`).join(''));
    proxy.heal();
    const t1 = performance.now();
    expect(await exchange(socket)).toContain('GET');
    // healed: less than the 160 ms that the delay would still add both ways
    expect(performance.now() - t1).toBeLessThan(155);
    socket.destroy();
  });

  it('delays a steady stream without the delay adding up: each chunk waits its own delay', async () => {
    const { proxy } = await setup();
    const socket = await connect(proxy.port);
    expect(await exchange(socket)).toContain('GET');
    const ms = 50;
    const jitterMs = 20;
    proxy.delay(ms, jitterMs);
    // a chunk every 10 ms for 600 ms, echoed: each crosses the proxy twice. Were the delays queued one
    // after the other (order is kept), the last chunk would wait tens of delays; it must wait two at most.
    const sentAt: number[] = [];
    const latencies: number[] = [];
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString();
      const parts = received.split(',');
      received = parts.pop()!;
      for (const part of parts) latencies[Number(part)] = performance.now() - sentAt[Number(part)]!;
    });
    for (let i = 0; i < 60; i++) {
      sentAt[i] = performance.now();
      socket.write(`${i},`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await expect.poll(() => latencies.filter((l) => l !== undefined).length, { timeout: 5000 }).toBe(60);
    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(2 * ms - 5);
    // two delays with their jitter, plus room for a loaded machine: far below the 60 x 50 ms of a build-up
    expect(Math.max(...latencies)).toBeLessThan(2 * (ms + jitterMs) + 500);
    socket.destroy();
  });

  it('drops a fraction of connections with a reset, seeded', async () => {
    const { proxy } = await setup(seededRandom(7));
    const attempt = async (): Promise<string> => {
      const socket = await connect(proxy.port).catch(() => undefined);
      if (!socket) return 'closed';
      const outcome = await exchange(socket);
      socket.destroy();
      return outcome;
    };
    proxy.dropConnections(0.5);
    const outcomes: string[] = [];
    for (let i = 0; i < 40; i++) outcomes.push(await attempt());
    const dropped = outcomes.filter((o) => o === 'closed').length;
    expect(dropped).toBeGreaterThan(8);
    expect(dropped).toBeLessThan(32);
    expect(outcomes.filter((o) => o.includes('GET')).length).toBe(40 - dropped);
    proxy.dropConnections(1);
    expect(await attempt()).toBe('closed');
    proxy.heal();
    expect(await attempt()).toContain('GET');
    expect(() => proxy.dropConnections(2)).toThrow(RangeError);
  });

  it('resets open connections once, and lets new ones through', async () => {
    const { proxy } = await setup();
    const socket = await connect(proxy.port);
    expect(await exchange(socket)).toContain('GET');
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const errored = new Promise<string>((resolve) =>
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')),
    );
    proxy.resetConnections();
    await closed;
    expect(await errored).toBe('ECONNRESET');
    expect(proxy.faulty).toBe(false);
    const next = await connect(proxy.port);
    expect(await exchange(next)).toContain('GET');
    next.destroy();
  });
});
