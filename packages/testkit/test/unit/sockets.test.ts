import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { tcpConnectionsTo } from '../../src/sockets.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function listen(): Promise<number> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => accepted.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    for (const socket of accepted) socket.destroy();
    server.close();
  });
  return (server.address() as { port: number }).port;
}

describe('tcpConnectionsTo', () => {
  it("counts this process's established connections to a port, and none to another", async () => {
    const port = await listen();
    const other = await listen();
    expect(tcpConnectionsTo(port)).toBe(0);
    const sockets = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1'), connect(other, '127.0.0.1')];
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
    });
    await Promise.all(sockets.map((socket) => once(socket, 'connect')));
    expect(tcpConnectionsTo(port)).toBe(2);
    expect(tcpConnectionsTo(other)).toBe(1);
  });

  it("counts another process's connections by its pid, not this process's", async () => {
    const port = await listen();
    const script = `const net = require('node:net');
      const sockets = [1, 2, 3].map(() => net.connect(${port}, '127.0.0.1'));
      let connected = 0;
      for (const s of sockets) s.on('connect', () => { if (++connected === 3) console.log('ready'); });
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => child.kill('SIGKILL'));
    await once(child.stdout, 'data');
    expect(tcpConnectionsTo(port, child.pid)).toBe(3);
    expect(tcpConnectionsTo(port)).toBe(0);
  });

  it('throws for a process that does not exist', () => {
    expect(() => tcpConnectionsTo(1, 2 ** 22 + 1)).toThrow();
  });
});
