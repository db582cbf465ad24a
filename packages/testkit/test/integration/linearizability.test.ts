/**
 * The linearizability checker against a real 3-member cluster: concurrent processes run quorum reads, sets,
 * compare-and-swaps, creates, deletes and createInOrder on a few keys through @etcdkit/client while the
 * leader is SIGKILLed and restarted, and SIGSTOPed and continued; the recorded history must check out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { type Cluster, checkKvLinearizability, KvHistory, startProcessCluster } from '../../src/index.js';
import { importClient, type KvWorkload, runKvWorker } from './kv-workload.js';

const dataDirRoot = mkdtempSync(join(tmpdir(), 'etcdkit-linearizability-'));
afterAll(() => rmSync(dataDirRoot, { recursive: true, force: true }));

const KEYS = ['/lin/k0', '/lin/k1', '/lin/k2'];
const DIR = '/lin/queue';

/** The workload of each process. */
const WORKLOAD: KvWorkload = { keys: KEYS, dir: DIR, pauseMs: (random) => 2 + random * 8 };

/** SIGKILL the leader and restart it, SIGSTOP the leader and continue it, twice. */
async function faults(cluster: Cluster): Promise<string[]> {
  const log: string[] = [];
  for (let round = 0; round < 2; round++) {
    await sleep(700);
    const killed = await cluster.waitForLeader();
    await killed.kill();
    log.push(`SIGKILL ${killed.name}`);
    await sleep(1200);
    await killed.restart();
    await sleep(700);
    const paused = await cluster.waitForLeader();
    await paused.pause();
    log.push(`SIGSTOP ${paused.name}`);
    await sleep(1200);
    await paused.resume();
  }
  await sleep(700);
  return log;
}

it('a history recorded under leader SIGKILL and SIGSTOP is linearizable', { timeout: 60_000 }, async () => {
  const { Client, KeysAPI } = await importClient();
  await using cluster = await startProcessCluster({ size: 3, dataDirRoot });
  const history = new KvHistory();
  const stop = new AbortController();
  // One endpoint a client: the client never sends a write twice, so each write takes effect at most once.
  const clients = Array.from({ length: 6 }, (_, i) => {
    const endpoint = cluster.clientURLs[i % cluster.clientURLs.length]!;
    return new Client({ endpoints: [endpoint], headerTimeoutPerRequest: 1000 });
  });
  try {
    const workers = clients.map((client, i) =>
      runKvWorker(`p${i}`, history.recorder(`p${i}`, new KeysAPI(client)), 1000 + i, WORKLOAD, stop.signal),
    );
    const log = await faults(cluster);
    stop.abort();
    await Promise.all(workers);

    const ops = history.operations;
    const started = performance.now();
    const result = checkKvLinearizability(history, { timeoutMs: 20_000 });
    const checkMs = performance.now() - started;
    const count = (type: string) =>
      ops.filter((op) => op.input.type === type && op.output?.status === 'ok').length;
    console.log(
      `${log.join(', ')}; ${ops.length} operations (gets ${count('get')}, sets ${count('set')}, cas ${count('cas')}, ` +
        `creates ${count('create')}, deletes ${count('delete')}, createInOrder ${count('createInOrder')} ok); ` +
        `stats ${JSON.stringify(result.stats)}; checked in ${Math.round(checkMs)} ms`,
    );
    if (result.ok === false) console.log(result.counterexample.text);
    expect(result).toMatchObject({ ok: true });
    expect(result.stats.checked).toBeGreaterThan(200);
    expect(count('cas')).toBeGreaterThan(0);
    expect(count('createInOrder')).toBeGreaterThan(0);
  } finally {
    stop.abort();
    await Promise.all(clients.map((client) => client.close()));
  }
});
