/**
 * The README's main command for now: starts a local 3-member etcd v2 cluster, prints its endpoints, and keeps
 * it up until Ctrl-C (or for DEMO_SECONDS seconds when set), then cleans up.
 */
import { startCluster } from '../start-cluster.js';

const size = Number(process.env.CLUSTER_SIZE ?? 3);
const t0 = performance.now();
const cluster = await startCluster({ size });
const leader = await cluster.waitForLeader();
console.log(
  `etcd ${cluster.version}: ${size}-member v2 cluster up in ${(performance.now() - t0).toFixed(0)} ms`,
);
for (const member of cluster.members) {
  console.log(
    `  ${member.name}  ${member.clientURL}  (pid ${member.pid})${member === leader ? '  leader' : ''}`,
  );
}
console.log(`\nETCDCTL_API=2 ETCDCTL_ENDPOINTS=${cluster.clientURLs.join(',')}`);

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  await cluster.close();
  console.log('cluster stopped, data removed');
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
const seconds = Number(process.env.DEMO_SECONDS ?? 0);
if (seconds > 0) setTimeout(shutdown, seconds * 1000);
else console.log('Ctrl-C to stop');
