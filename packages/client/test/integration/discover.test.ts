import { type ChildProcess, spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { freePorts } from '@etcdkit/testkit';
import { sharedClusterEndpoints } from '@etcdkit/testkit/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, DiscoveryError, discoverEndpoints } from '../../src/index.js';

const DNSMASQ = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'].find(existsSync) ?? 'dnsmasq';
const endpoints = sharedClusterEndpoints();
const ports = endpoints.map((url) => Number(new URL(url).port));
let dnsmasq: ChildProcess;
const resolver = new Resolver();

beforeAll(async () => {
  const [port] = await freePorts(1);
  // A real DNS server on loopback, serving SRV records for the shared cluster (scripts/setup.sh installs it).
  const records = [
    // plain service: priorities in reverse member order, so order must come from priority
    ...ports.map((p, i) => `--srv-host=_etcd-client._tcp.etcdkit.test,127.0.0.1,${p},${10 - i},10`),
    // named service "api": one https record and one http record
    `--srv-host=_etcd-client-ssl-api._tcp.etcdkit.test,secure.etcdkit.test,2379,0,10`,
    `--srv-host=_etcd-client-api._tcp.etcdkit.test,127.0.0.1,${ports[0]},0,10`,
  ];
  dnsmasq = spawn(
    DNSMASQ,
    [
      '--no-daemon',
      '--no-resolv',
      '--no-hosts',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--user=root',
      '--pid-file=',
      ...records,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  dnsmasq.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  resolver.setServers([`127.0.0.1:${port}`]);
  for (let i = 0; i < 100 && !log.includes('started'); i++) await new Promise((r) => setTimeout(r, 20));
  if (!log.includes('started')) throw new Error(`dnsmasq did not start: ${log}`);
});
afterAll(() => {
  if (dnsmasq?.pid) process.kill(dnsmasq.pid, 'SIGTERM');
});

describe('SRV discovery against a real DNS server', () => {
  it('finds the http endpoints in priority order, and they work', async () => {
    const found = await discoverEndpoints('etcdkit.test', { resolver });
    expect(found).toEqual([...ports].reverse().map((p) => `http://127.0.0.1:${p}`));
    await using client = new Client({ endpoints: found });
    expect((await client.getVersion()).server).toMatch(/^3\./);
  });

  it('with a service name: the https records first, then the http ones', async () => {
    const found = await discoverEndpoints('etcdkit.test', { resolver, serviceName: 'api' });
    expect(found).toEqual(['https://secure.etcdkit.test:2379', `http://127.0.0.1:${ports[0]}`]);
  });

  it('fails only when both look-ups fail, naming both errors', async () => {
    const error = await discoverEndpoints('nothing.test', { resolver }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toMatch(
      /^dns lookup errors: .*_etcd-client-ssl\._tcp\.nothing\.test.* and .*_etcd-client\._tcp\.nothing\.test/,
    );
  });
});
