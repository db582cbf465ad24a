/**
 * Semaphore.acquire with fake keys: a permit is never handed out once its key's validity has passed, even when
 * the grant came in time and only the touch that wakes the waiter behind was slow (a chaos run's case).
 */
import { describe, expect, it } from 'vitest';
import { SessionLostError } from '../../src/errors.js';
import { Semaphore } from '../../src/semaphore.js';
import { dirReply, FakeKeys, node, reply, settle } from './fake-keys.js';

const DIR = '/sem';
const OURS = `${DIR}/8`;

describe('Semaphore.acquire', () => {
  it('a grant whose touch of the waiter behind outlasts the key’s validity rejects with SessionLostError, and removes the key', async () => {
    const keys = new FakeKeys();
    let sentTouchAt = 0;
    keys.onCall((call) => {
      if (call.method === 'createInOrder') call.reply.resolve(reply('create', node(OURS, 8, 8, call.value)));
      // every read after the first: the permit's holder is gone, ours is first
      if (call.method === 'get' && keys.of('get').length > 1)
        call.reply.resolve(dirReply(DIR, 40, node(OURS, 8, 8, '{}')));
      // the touch (a write of our own key with its value, no refresh) times out after 2 s, a request timeout;
      // refreshes are never answered; the removal is
      if (call.method === 'delete') call.reply.resolve(reply('compareAndDelete', node(call.key, 8, 50)));
      if (call.method === 'set' && call.key === OURS && sentTouchAt === 0 && !call.options.prevExist) {
        sentTouchAt = performance.now();
        setTimeout(() => call.reply.reject(new Error('headers timeout')), 2000);
      }
    });
    // TTL 2: the key's validity ends 1.5 s after its create was sent (margin 500 ms)
    await using semaphore = new Semaphore(keys.api, DIR, 1, { ttl: 2 });
    const acquiring = semaphore.acquire().then(
      () => 'handed out',
      (error: unknown) => error,
    );
    await settle();
    // past the permits: ours is second, behind a holder; it watches the directory
    keys.of('get')[0]!.reply.resolve(dirReply(DIR, 20, node(`${DIR}/5`, 5, 5, '{}'), node(OURS, 8, 8, '{}')));
    await settle();
    const watcher = keys.watchers.find((w) => w.key === DIR)!;
    watcher.push(reply('delete', node(`${DIR}/5`, 5, 30), node(`${DIR}/5`, 5, 5, '{}')));
    const outcome = await acquiring;
    expect(sentTouchAt).toBeGreaterThan(0); // the grant came, then the touch went out
    expect(outcome).toBeInstanceOf(SessionLostError);
    // not held: its key is removed
    await settle();
    expect(keys.of('delete').map((call) => call.key)).toContain(OURS);
  });
});
