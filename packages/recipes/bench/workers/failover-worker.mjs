// One contender of the failover bench, in its own process (forked: it talks to the bench over IPC).
//   node failover-worker.mjs <locker|candidate|service|observer> <id> <settings JSON>
// settings: { ttl, client } (client: Client options, e.g. headerTimeoutPerRequest, watchLivenessInterval).
// Each trial: the bench sends { type: 'begin', order, prefix }; the worker makes a new client pinned to order[0]
// (the others in order after it), plays its role under prefix and answers 'ready'; then role commands; then
// { type: 'end' }, answered by 'ended' once everything is released and closed. Every event carries `at`, the
// wall-clock ms of testkit's now(), comparable across processes.
//   locker:    'acquire' -> 'acquired' { token }; 'release' -> 'released' { error? }
//   candidate: 'campaign' -> 'elected' { token }
//   service:   registers at begin (id = the worker's id)
//   observer:  reports 'leader' { value } (election observe) and 'change' { change, instance } (registry watch)
// 'lost' { what, reason }: a held lock, a waiter, a term or a campaign lost its session key (SessionLostError,
// SessionExpiredError). 'error' { what, message }: any other failure (retried).
import { Client, KeysAPI } from '@etcdkit/client';
import { now } from '@etcdkit/testkit';
import { Election, Lock, ServiceRegistry } from '../../dist/index.js';

const [role, id, settingsJSON] = process.argv.slice(2);
const settings = JSON.parse(settingsJSON);
const send = (event) => process.send?.({ id, at: now(), ...event });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const LOST = new Set(['SessionLostError', 'SessionExpiredError']);

/** A client whose pinned endpoint is order[0]: setEndpoints shuffles, so set them until the order fits. */
function pinnedClient(order) {
  const client = new Client({ endpoints: order, ...settings.client });
  for (let i = 0; i < 1000 && client.endpoints().join() !== order.join(); i++) client.setEndpoints(order);
  if (client.endpoints().join() !== order.join()) throw new Error('could not pin the endpoints');
  return client;
}

/** The current trial: its client, objects and an abort for whatever is pending. */
let trial;

/** Reports a failure of trial `t` (nothing once the bench ended it: then an abort is expected). */
function failed(t, what, error) {
  if (t.controller.signal.aborted) return;
  if (LOST.has(error?.name)) send({ type: 'lost', what, reason: error.name });
  else send({ type: 'error', what, message: `${error?.name}: ${error?.message ?? error}` });
}

function watchLost(what, signal, t) {
  signal.addEventListener(
    'abort',
    () => {
      if (!t.ending && !t.releasing) send({ type: 'lost', what, reason: signal.reason?.name ?? 'aborted' });
    },
    { once: true },
  );
}

async function begin({ order, prefix }) {
  const client = pinnedClient(order);
  const t = { client, keys: new KeysAPI(client), controller: new AbortController(), prefix, closers: [] };
  trial = t;
  const options = { ttl: settings.ttl };
  if (role === 'locker') {
    t.lock = new Lock(t.keys, `${prefix}/lock`, options);
    t.closers.push(() => t.lock.close());
  } else if (role === 'candidate') {
    t.election = new Election(t.keys, `${prefix}/election`, options);
    t.closers.push(() => t.election.close());
  } else if (role === 'service') {
    const registry = new ServiceRegistry(t.keys, `${prefix}/services`, options);
    t.closers.push(() => registry.close());
    for (;;) {
      try {
        const registration = await registry.register({ service: 'api', id, address: '127.0.0.1', port: 1 });
        t.closers.unshift(() => registration.close());
        break;
      } catch (error) {
        failed(t, 'registration', error);
        await sleep(100);
      }
    }
  } else if (role === 'observer') {
    const { signal } = t.controller;
    const election = new Election(t.keys, `${prefix}/election`, options);
    const registry = new ServiceRegistry(t.keys, `${prefix}/services`, options);
    t.closers.push(
      () => election.close(),
      () => registry.close(),
    );
    void (async () => {
      for await (const leader of election.observe({ signal }))
        send({ type: 'leader', value: leader?.value ?? null });
    })().catch((error) => failed(t, 'observe', error));
    void (async () => {
      for await (const change of registry.watch('api', { signal }))
        send({ type: 'change', change: change.type, instance: change.instance.id });
    })().catch((error) => failed(t, 'watch', error));
  }
  send({ type: 'ready' });
}

async function acquire(t) {
  while (!t.controller.signal.aborted) {
    try {
      const held = await t.lock.acquire({ signal: t.controller.signal });
      t.held = held;
      watchLost('lock', held.signal, t);
      send({ type: 'acquired', token: held.fencingToken });
      return;
    } catch (error) {
      failed(t, 'lock waiter', error);
      await sleep(100);
    }
  }
}

async function campaign(t) {
  while (!t.controller.signal.aborted) {
    try {
      const term = await t.election.campaign(id, { signal: t.controller.signal });
      t.term = term;
      watchLost('term', term.signal, t);
      send({ type: 'elected', token: term.fencingToken });
      return;
    } catch (error) {
      failed(t, 'campaign', error);
      await sleep(100);
    }
  }
}

async function release(t) {
  t.releasing = true;
  const held = t.held;
  t.held = undefined;
  try {
    await held?.release();
    send({ type: 'released' });
  } catch (error) {
    send({ type: 'released', error: error.name });
  }
  t.releasing = false;
}

async function end(t) {
  t.ending = true;
  t.controller.abort();
  await t.pending; // an acquire or campaign cut short by the abort removes its key first
  await Promise.allSettled([t.held?.release(), t.term?.resign()]);
  for (const close of t.closers) await close().catch(() => {});
  await t.client.close();
  send({ type: 'ended' });
}

process.on('message', (message) => {
  const t = trial;
  if (message.type === 'begin')
    begin(message).catch((error) => send({ type: 'error', what: 'begin', message: String(error) }));
  else if (message.type === 'acquire') t.pending = acquire(t);
  else if (message.type === 'release') void release(t);
  else if (message.type === 'campaign') t.pending = campaign(t);
  else if (message.type === 'end') end(t).catch((error) => send({ type: 'ended', error: String(error) }));
});
process.on('disconnect', () => process.exit(0));
send({ type: 'up', role });
