/**
 * testkit benchmark: cluster startup and SIGKILL-leader failover, medians over several runs, for the process
 * backend and the Docker backend (host and bridge networks). Each figure is also a ratio to a baseline measured
 * in the same run (the machine is noisy): startup against a 1-member process start, failover against the
 * configured election timeout.
 *
 *   npm run bench -w @etcdkit/testkit     (RUNS=9 for more runs; DOCKER=0 to leave Docker out;
 *                                         ETCDKIT_BENCH_IMAGE=<image> instead of a local FROM-scratch image)
 */
import type { Cluster } from '../cluster.js';
import { buildLocalEtcdImage } from '../docker/image.js';
import { raftTimings } from '../etcd-args.js';
import { measureFailover, median } from '../measure.js';
import { type StartAnyClusterOptions, startCluster } from '../start-cluster.js';

const runs = Number(process.env.RUNS ?? 5);
const withDocker = process.env.DOCKER !== '0';

interface Backend {
  readonly name: string;
  readonly options: StartAnyClusterOptions;
}

async function timeStart(options: StartAnyClusterOptions): Promise<number> {
  const t0 = performance.now();
  const cluster = await startCluster(options);
  const elapsed = performance.now() - t0;
  await cluster.close();
  return elapsed;
}

async function timeFailover(options: StartAnyClusterOptions): Promise<{ leader: number; write: number }> {
  const cluster: Cluster = await startCluster({ ...options, size: 3 });
  try {
    const leader = await cluster.waitForLeader();
    const times = await measureFailover(cluster, () => leader.kill());
    return { leader: times.newLeaderMs, write: times.firstWriteMs };
  } finally {
    await cluster.close();
  }
}

const backends: Backend[] = [{ name: 'process', options: { backend: 'process' } }];
if (withDocker) {
  const image = process.env.ETCDKIT_BENCH_IMAGE ?? (await buildLocalEtcdImage());
  backends.push(
    { name: 'docker host', options: { backend: 'docker', image, network: 'host' } },
    { name: 'docker bridge', options: { backend: 'docker', image, network: 'bridge' } },
  );
}

const baseline: number[] = [];
const results = new Map<string, { start: number[]; leader: number[]; write: number[] }>();
for (let i = 0; i < runs; i++) {
  baseline.push(await timeStart({ size: 1 }));
  for (const backend of backends) {
    const entry = results.get(backend.name) ?? { start: [], leader: [], write: [] };
    results.set(backend.name, entry);
    entry.start.push(await timeStart({ ...backend.options, size: 3 }));
    const failover = await timeFailover(backend.options);
    entry.leader.push(failover.leader);
    entry.write.push(failover.write);
  }
}

const { electionMs } = raftTimings('fast');
const base = median(baseline);
const ms = (value: number): string => `${value.toFixed(0)} ms`;
console.log(`## testkit: startup and failover (fast timings), median of ${runs} runs\n`);
console.log(
  `Baselines measured in the same run: a 1-member process-backend start (${ms(base)}), and the election ` +
    `timeout (${electionMs} ms).\n`,
);
console.log(
  '| backend | 3-member startup | vs 1-member start | SIGKILL leader → new leader | → first write | vs election timeout |',
);
console.log('|---|---|---|---|---|---|');
for (const [name, entry] of results) {
  const start = median(entry.start);
  const leader = median(entry.leader);
  const write = median(entry.write);
  console.log(
    `| ${name} | ${ms(start)} | ${(start / base).toFixed(2)}x | ${ms(leader)} | ${ms(write)} | ` +
      `${(leader / electionMs).toFixed(2)}x / ${(write / electionMs).toFixed(2)}x |`,
  );
}
if (!withDocker) console.log('\nDocker backend left out (DOCKER=0).');
