import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts, RESERVATIONS, releasePorts, reservePort } from '../../src/ports.js';

// Other test processes load testkit from dist/ (as the reaper test does): build it first.
const testkit = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/** A process that takes `freePorts(n)` on each `take <n>` line, prints them, binds nothing, and exits when stdin ends. */
interface Holder {
  readonly child: ChildProcess;
  take(count: number): Promise<number[]>;
}

const holders: Holder[] = [];
afterEach(async () => {
  for (const { child } of holders.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin!.end(); // it exits and gives its ports back
      await once(child, 'exit');
    }
  }
});

async function startHolder(): Promise<Holder> {
  const script = `
    import { createInterface } from 'node:readline';
    import { freePorts } from ${JSON.stringify(testkit)};
    console.log('ready');
    for await (const line of createInterface({ input: process.stdin })) {
      console.log(JSON.stringify(await freePorts(Number(line.split(' ')[1]))));
    }
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const holder: Holder = {
    child,
    async take(count) {
      child.stdin!.write(`take ${count}\n`);
      const { value } = await lines.next();
      return JSON.parse(value as string) as number[];
    },
  };
  holders.push(holder);
  expect((await lines.next()).value).toBe('ready');
  return holder;
}

const overlap = (a: number[], b: number[]): number[] => a.filter((port) => b.includes(port));

describe('freePorts across processes', () => {
  // 500 random ports out of 12000 twice share about 20 when nothing coordinates the processes.
  it('never hands a port held by another live process to another, though nothing is bound to it', async () => {
    const [a, b] = await Promise.all([startHolder(), startHolder()]);
    const [portsA, portsB] = await Promise.all([a.take(500), b.take(500)]);
    expect(new Set(portsA).size).toBe(500);
    expect(overlap(portsA, portsB)).toEqual([]);
    const mine = await freePorts(500);
    try {
      expect(overlap(mine, [...portsA, ...portsB])).toEqual([]);
      expect(readFileSync(join(RESERVATIONS, String(portsA[0])), 'utf8').trim()).toBe(String(a.child.pid));
      expect(reservePort(portsB[0]!)).toBe(false);
    } finally {
      releasePorts(mine);
    }
  });

  it('takes over the reservation of a dead process, and a process that exits gives its ports back', async () => {
    const [a, b] = await Promise.all([startHolder(), startHolder()]);
    const portsA = await a.take(5);
    const portsB = await b.take(5);
    expect(reservePort(portsA[0]!)).toBe(false);
    a.child.kill('SIGKILL'); // leaves its files behind, with a dead pid
    await once(a.child, 'exit');
    expect(existsSync(join(RESERVATIONS, String(portsA[0])))).toBe(true);
    expect(portsA.map(reservePort)).toEqual(portsA.map(() => true));
    expect(readFileSync(join(RESERVATIONS, String(portsA[0])), 'utf8').trim()).toBe(String(process.pid));
    releasePorts(portsA);
    expect(existsSync(join(RESERVATIONS, String(portsA[0])))).toBe(false);

    b.child.stdin!.end();
    await once(b.child, 'exit');
    expect(portsB.filter((port) => existsSync(join(RESERVATIONS, String(port))))).toEqual([]);
  });

  it('takes over a reservation file left by an earlier process with our own pid', () => {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!reservePort(port)) return; // another process holds it right now
    releasePorts([port]);
    writeFileSync(join(RESERVATIONS, String(port)), `${process.pid}\n`);
    expect(reservePort(port)).toBe(true);
    expect(reservePort(port)).toBe(false); // held by us now
    releasePorts([port]);
    expect(existsSync(join(RESERVATIONS, String(port)))).toBe(false);
  });
});
