import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { type Cluster, startProcessCluster } from '../../src/index.js';
import { faultSuite } from './fault-suite.js';
import { processAlive } from './helpers.js';

const dataDirRoot = mkdtempSync(join(tmpdir(), 'etcdkit-faults-'));
afterAll(() => rmSync(dataDirRoot, { recursive: true, force: true }));

/** Every pid a cluster's members ever had. */
const pids = new WeakMap<Cluster, Set<number>>();

faultSuite('process backend', {
  peerProxies: true,
  async start(options) {
    const cluster = await startProcessCluster({ ...options, dataDirRoot });
    const seen = new Set<number>();
    pids.set(cluster, seen);
    const remember = (): void => {
      for (const member of cluster.members) if (member.pid) seen.add(member.pid);
    };
    remember();
    const timer = setInterval(remember, 20);
    timer.unref();
    return cluster;
  },
  async leftovers(cluster) {
    const left = [...(pids.get(cluster) ?? [])].filter(processAlive).map((pid) => `pid ${pid}`);
    if (existsSync(dataDirRoot)) left.push(...readdirSync(dataDirRoot).map((dir) => `dir ${dir}`));
    return left;
  },
});
