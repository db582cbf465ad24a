// Leader election: three candidates; the leader proclaims a value, an observer follows, and when the leader
// resigns the next one leads.
//   ETCDCTL_ENDPOINTS=http://127.0.0.1:2379 node examples/election.mjs
import { Client, KeysAPI } from '@etcdkit/client';
import { Election } from '@etcdkit/recipes';

const endpoints = (process.env.ETCDCTL_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',');
const prefix = process.env.EXAMPLE_PREFIX ?? '/examples';
const client = new Client({ endpoints });
const keys = new KeysAPI(client);
const name = `${prefix}/elections/scheduler`;

const observing = new AbortController();
/** @type {string[]} */
const seen = [];
const observer = (async () => {
  try {
    for await (const leader of new Election(keys, name).observe({ signal: observing.signal })) {
      if (leader && seen.at(-1) !== leader.value) {
        seen.push(leader.value);
        console.log(`observer: ${leader.value} leads (token ${leader.fencingToken})`);
      }
    }
  } catch {
    // aborted at the end
  }
})();

for (const candidate of ['node-a', 'node-b', 'node-c']) {
  const election = new Election(keys, name, { ttl: 5 });
  const term = await election.campaign(candidate, { signal: AbortSignal.timeout(30_000) });
  console.log(`${candidate} is leader with token ${term.fencingToken}`);
  await term.proclaim(`${candidate} (serving)`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await term.resign();
  await election.close();
}
observing.abort();
await observer;
console.log('observer saw:', seen.join(' -> '));
client.close();
