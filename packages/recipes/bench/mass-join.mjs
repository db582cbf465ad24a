// A thousand Lock waiters joining at once in one process (issue #16): a holder and WAITERS waiters on one key,
// one client, a KeysAPI each (as the waiting bench's 1000-waiter row), TTL 15, on a MEMBERS-member etcd. Every
// 4 s it prints the refreshes, quorum reads and other requests sent, the worst event-loop lag, and the sessions
// lost so far. Until e53c563 each joiner read the whole queue itself: 4000-5500 quorum reads, the loop stalled
// for 2.5-4.6 s, and some runs lost hundreds of keys about 16 s in ("no successful refresh before its validity
// deadline"). Since, the joins share 2-3 reads, the lag is about half a second, and no key is lost.
//
//   node bench/mass-join.mjs   (WAITERS=1000, TTL=15, WINDOWS=6, MEMBERS=1)
import diagnosticsChannel from 'node:diagnostics_channel';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client, ClientChannels } from '@etcdkit/client';
import { startCluster } from '@etcdkit/testkit';
import { queueLockWaiters } from './lock-waiters.mjs';

const WAITERS = Number(process.env.WAITERS ?? 1000);
const TTL = Number(process.env.TTL ?? 15);
const WINDOWS = Number(process.env.WINDOWS ?? 6);
const MEMBERS = Number(process.env.MEMBERS ?? 1);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const cluster = await startCluster({ size: MEMBERS });
try {
  const client = new Client({ endpoints: cluster.clientURLs });
  const t0 = performance.now();
  const queue = await queueLockWaiters(client, '/bench/mass-join', WAITERS, TTL);
  let refreshes = 0;
  let reads = 0;
  let other = 0;
  diagnosticsChannel.subscribe(ClientChannels.requestStart, (message) => {
    if (message.method === 'PUT' && message.path.includes('prevExist=true')) refreshes++;
    else if (message.method === 'GET' && message.path.includes('quorum=true')) reads++;
    else other++;
  });
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  console.log(
    '| at s | refreshes sent | quorum reads | other requests | worst loop lag ms | sessions lost |',
  );
  console.log('|---|---|---|---|---|---|');
  for (let w = 0; w < WINDOWS; w++) {
    refreshes = 0;
    reads = 0;
    other = 0;
    lag.reset();
    await sleep(4000);
    const at = ((performance.now() - t0) / 1000).toFixed(0);
    console.log(
      `| ${at} | ${refreshes} | ${reads} | ${other} | ${(lag.max / 1e6).toFixed(0)} | ${queue.lost()} |`,
    );
  }
  lag.disable();
  if (queue.firstLoss()) console.log(`\nfirst loss: ${queue.firstLoss()}`);
  await queue.stop();
  await client.close();
} finally {
  await cluster.close();
}
