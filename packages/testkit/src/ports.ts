import { createServer } from 'node:net';

/**
 * Free TCP ports on 127.0.0.1, taken below the ephemeral range (32768-60999 on Linux) so that outgoing
 * connections of other processes cannot take them between the check and etcd's bind.
 */
const LOW = 20_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

/** Returns `count` distinct ports that were free on 127.0.0.1 a moment ago and were not handed out before. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (tries > 1000) throw new Error(`could not find ${count} free ports on ${host}`);
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    if (await canBind(port, host)) {
      handedOut.add(port);
      ports.push(port);
    }
  }
  return ports;
}

/** Lets `freePorts` hand these ports out again. */
export function releasePorts(ports: Iterable<number>): void {
  for (const port of ports) handedOut.delete(port);
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
