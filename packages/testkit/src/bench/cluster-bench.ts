/**
 * testkit benchmark: 3-member startup time and SIGKILL-leader failover, medians over several runs.
 * Each figure is also given as a ratio to a baseline measured in the same run (the machine is noisy):
 * startup against a 1-member start, failover against the configured election timeout.
 *
 *   npm run bench -w @etcdkit/testkit            (RUNS=9 to change the number of runs)
 */

import { raftTimings } from '../etcd-args.js';
import { putKey, sleep } from '../internal/http.js';
import { startProcessCluster } from '../process-cluster.js';

const runs = Number(process.env.RUNS ?? 7);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function timeStart(size: number): Promise<number> {
  const t0 = performance.now();
  const cluster = await startProcessCluster({ size });
  const elapsed = performance.now() - t0;
  await cluster.close();
  return elapsed;
}

async function timeFailover(): Promise<{ leader: number; write: number }> {
  await using cluster = await startProcessCluster({ size: 3 });
  const leader = await cluster.waitForLeader();
  const survivor = cluster.members.find((m) => m !== leader)!;
  const t0 = performance.now();
  await leader.kill();
  const firstWrite = (async () => {
    for (;;) {
      const status = await putKey(survivor.clientURL, '/bench', 'x', 200).catch(() => 0);
      if (status === 200 || status === 201) return performance.now() - t0;
      await sleep(5);
    }
  })();
  await cluster.waitForLeader({ exclude: [leader] });
  const newLeader = performance.now() - t0;
  return { leader: newLeader, write: await firstWrite };
}

const single: number[] = [];
const triple: number[] = [];
const toLeader: number[] = [];
const toWrite: number[] = [];
for (let i = 0; i < runs; i++) {
  single.push(await timeStart(1));
  triple.push(await timeStart(3));
  const failover = await timeFailover();
  toLeader.push(failover.leader);
  toWrite.push(failover.write);
}

const { electionMs } = raftTimings('fast');
const ms = (value: number): string => `${value.toFixed(0)} ms`;
const rows: [string, number, string, number][] = [
  ['1-member startup (baseline)', median(single), '1-member startup', 1],
  ['3-member startup', median(triple), '1-member startup', median(triple) / median(single)],
  [
    'SIGKILL leader -> new leader',
    median(toLeader),
    `election timeout (${electionMs} ms)`,
    median(toLeader) / electionMs,
  ],
  [
    'SIGKILL leader -> first write',
    median(toWrite),
    `election timeout (${electionMs} ms)`,
    median(toWrite) / electionMs,
  ],
];
console.log(`## testkit (process backend, fast timings), median of ${runs} runs\n`);
console.log('| measure | median | baseline | ratio |\n|---|---|---|---|');
for (const [name, value, baseline, ratio] of rows)
  console.log(`| ${name} | ${ms(value)} | ${baseline} | ${ratio.toFixed(2)}x |`);
